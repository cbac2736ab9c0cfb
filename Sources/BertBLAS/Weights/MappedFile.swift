#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only file mapped into memory with `mmap`, unmapped when the last reference goes.
///
/// Foundation's `Data(contentsOf:options:.mappedIfSafe)` copies the file on Linux, so weights are
/// mapped here directly. The mapping is private and read-only, and never changes after `init`,
/// which is what makes sharing it across threads safe.
public final class MappedFile: @unchecked Sendable {
    /// The file that was mapped (for error messages).
    public let url: URL
    /// The mapped bytes; empty for an empty file.
    public let bytes: UnsafeRawBufferPointer

    /// Maps `url` read-only.
    ///
    /// - Parameter url: a regular file.
    /// - Throws: `BertError.io` naming the file when it cannot be opened, stat'ed or mapped.
    public init(url: URL) throws {
        self.url = url
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw BertError(.io, "\(url.path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw BertError(.io, "\(url.path): cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BertError(.io, "\(url.path): not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw BertError(.io, "\(url.path): cannot mmap \(size) bytes: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
