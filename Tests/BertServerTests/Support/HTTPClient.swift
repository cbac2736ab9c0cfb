import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare HTTP/1.1 client on a socket to 127.0.0.1, so tests control every byte: malformed JSON,
/// a declared length of 100 MB, a chunked body that never ends under the limit.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
    /// TEI's error body: `error_type`, or nil when the body is not one.
    var errorType: String? { (try? json() as? [String: Any])?["error_type"] as? String }
}

enum HTTPClientError: Error, CustomStringConvertible {
    case socket(String)
    case malformed(String)
    var description: String {
        switch self {
        case .socket(let s): "socket: \(s)"
        case .malformed(let s): "malformed reply: \(s)"
        }
    }
}

/// How the body is sent.
enum RequestBody: Sendable {
    case none
    case bytes(Data)
    /// `Content-Length: total`, the bytes being `prefix` then `filler` repeated: a huge body
    /// without holding it in memory.
    case declared(total: Int, prefix: Data, filler: UInt8)
    /// `Transfer-Encoding: chunked`, `total` bytes in chunks of `chunk`.
    case chunked(total: Int, chunk: Int, prefix: Data, filler: UInt8)
}

enum HTTPClient {
    static func post(_ port: Int, _ path: String, json: String, headers: [String: String] = [:]) throws -> HTTPReply {
        try request(port, "POST", path, body: .bytes(Data(json.utf8)), headers: headers)
    }

    static func get(_ port: Int, _ path: String, headers: [String: String] = [:]) throws -> HTTPReply {
        try request(port, "GET", path, body: .none, headers: headers)
    }

    /// One request on a fresh connection (`Connection: close`); reads the reply to the end.
    /// When the server answers before the body is all sent (a 413), sending stops and the reply
    /// is read.
    static func request(_ port: Int, _ method: String, _ path: String, body: RequestBody,
                        headers: [String: String] = [:], timeout: Double = 60) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.socket("socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // Sends wake up every 100 ms, so a server that answered early and stopped reading (a 413)
        // cannot leave the client blocked in send() with full socket buffers.
        var sendWake = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendWake, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(timeout)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HTTPClientError.socket("connect to 127.0.0.1:\(port) failed, errno \(errno)") }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        switch body {
        case .none: break
        case .bytes(let data): head += "Content-Type: application/json\r\nContent-Length: \(data.count)\r\n"
        case .declared(let total, _, _): head += "Content-Type: application/json\r\nContent-Length: \(total)\r\n"
        case .chunked: head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        }
        head += "\r\n"
        var open = send(fd, deadline: deadline, Data(head.utf8))
        switch body {
        case .none: break
        case .bytes(let data): if open { open = send(fd, deadline: deadline, data) }
        case .declared(let total, let prefix, let filler):
            if open { open = send(fd, deadline: deadline, prefix) }
            var left = total - prefix.count
            let block = Data(repeating: filler, count: 1 << 16)
            while open && left > 0 && !readable(fd) {
                let n = min(left, block.count)
                open = send(fd, deadline: deadline, block.prefix(n))
                left -= n
            }
        case .chunked(let total, let chunk, let prefix, let filler):
            var left = total
            var first = true
            let block = Data(repeating: filler, count: chunk)
            while open && left > 0 && !readable(fd) {
                var piece = first ? prefix + block : block
                piece = piece.prefix(min(piece.count, left))
                first = false
                open = send(fd, deadline: deadline, Data(String(piece.count, radix: 16).utf8) + Data("\r\n".utf8) + piece + Data("\r\n".utf8))
                left -= piece.count
            }
            if open && left <= 0 { _ = send(fd, deadline: deadline, Data("0\r\n\r\n".utf8)) }
        }
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        return try parse(reply)
    }

    /// Sends all of `data`; false once the peer closed (no SIGPIPE), once it answered while the
    /// socket was full (it stopped reading), or at `deadline`.
    private static func send(_ fd: Int32, deadline: Date, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                    if readable(fd) || Date() >= deadline { return false }
                } else {
                    return false
                }
            }
            return true
        }
    }

    /// Whether the server has already answered (or closed).
    private static func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    static func parse(_ data: Data) throws -> HTTPReply {
        let separator = Data("\r\n\r\n".utf8)
        guard let end = data.range(of: separator) else {
            throw HTTPClientError.malformed("no header end in \(data.count) bytes")
        }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HTTPClientError.malformed("status line '\(head[0])'")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: Data) -> Data {
        var out = Data()
        var index = data.startIndex
        let crlf = Data("\r\n".utf8)
        while let lineEnd = data.range(of: crlf, in: index..<data.endIndex) {
            let size = Int(String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            let stop = min(start + size, data.endIndex)
            out.append(data[start..<stop])
            index = min(stop + 2, data.endIndex)
        }
        return out
    }
}
