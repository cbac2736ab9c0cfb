import Foundation
import Testing
@testable import BertBLAS

/// Bad inputs for `bert classify` at the library level: every input gives exactly one record,
/// in order, and nothing crashes or hangs.
@Suite struct DocumentInputTests {
    /// Builds the bad-inputs folder; returns it and the expected (name, error substring or nil).
    static func makeBadInputs(_ name: String) throws -> (URL, [(String, String?)]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-bad-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func write(_ file: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(file)) }
        try write("a-good.txt", Array("A fine film with a great cast.".utf8))
        try write("b-binary.txt", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01, 0x02])
        try write("c-invalid-utf8.txt", Array("caf".utf8) + [0xE9] + Array(" au lait, tr".utf8) + [0xE8, 0x73] + Array(" bon".utf8))
        try write("d-empty.txt", [])
        try write("e-blank.txt", Array(" \n\t \n".utf8))
        try write("f-huge.txt", [UInt8](repeating: UInt8(ascii: "a"), count: 5 * 1024 * 1024))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("g-loop.txt").path,
                                                   withDestinationPath: "g-loop.txt")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("h-dangling.txt").path,
                                                   withDestinationPath: "does-not-exist.txt")
        // A directory symlink back to the folder: a loop the walk must not follow forever.
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("i-dir-loop").path,
                                                   withDestinationPath: ".")
        // A named pipe: opening it would block forever; it must be refused without opening.
        #expect(mkfifo(dir.appendingPathComponent("j-fifo.txt").path, 0o644) == 0)
        try write("k-latin.txt", Array("Un très bon film.".utf8))
        var expected: [(String, String?)] = [
            ("a-good.txt", nil), ("b-binary.txt", "binary"), ("c-invalid-utf8.txt", nil),
            ("d-empty.txt", "empty"), ("e-blank.txt", "empty"), ("f-huge.txt", "over the limit"),
            ("g-loop.txt", "symlink loop"), ("h-dangling.txt", "broken symlink"),
            ("i-dir-loop", "symlink loop"), ("j-fifo.txt", "not a regular file"), ("k-latin.txt", nil)]
        // A file without read permission: only unreadable for a non-root user (root reads it anyway).
        if getuid() != 0 {
            try write("l-unreadable.txt", Array("secret".utf8))
            #expect(chmod(dir.appendingPathComponent("l-unreadable.txt").path, 0) == 0)
            expected.append(("l-unreadable.txt", "cannot open"))
        }
        return (dir, expected)
    }

    @Test func oneRecordPerBadInputInOrder() throws {
        let (dir, expected) = try Self.makeBadInputs("walk")
        let inputs = DocumentWalker.expand([dir.path, dir.appendingPathComponent("missing.txt").path])
        let records = inputs.flatMap { DocumentWalker.documents(of: $0, mode: .file) }
        let names = records.map { ($0.path as NSString).lastPathComponent }
        #expect(names == expected.map(\.0) + ["missing.txt"])
        for (record, (name, error)) in zip(records, expected) {
            if let error {
                #expect(record.error?.contains(error) == true, "\(name): \(record.error ?? "no error")")
                #expect(record.text.isEmpty)
            } else {
                #expect(record.error == nil, "\(name): \(record.error ?? "")")
                #expect(!record.text.isEmpty)
            }
        }
        let utf8 = try #require(records.first { $0.path.hasSuffix("c-invalid-utf8.txt") })
        #expect(utf8.warning?.contains("invalid UTF-8") == true)
        #expect(utf8.text.contains("\u{FFFD}"))
        #expect(records.last?.error?.contains("no such file") == true)
    }

    @Test func globLinesAndCSVColumn() throws {
        let (dir, _) = try Self.makeBadInputs("glob")
        let only = DocumentWalker.expand([dir.path], glob: "k-*")
        // The glob filters files; a directory loop is still reported (it might have held matches).
        #expect(only.map { ($0.path as NSString).lastPathComponent } == ["i-dir-loop", "k-latin.txt"])

        let lines = dir.appendingPathComponent("lines.list")
        try Data("first\n\nthird\r\n".utf8).write(to: lines)
        let docs = DocumentWalker.documents(of: InputPath(path: lines.path), mode: .lines)
        #expect(docs.map(\.line) == [1, 2, 3])
        #expect(docs.map(\.text) == ["first", "", "third"])
        #expect(docs[1].error == "empty line")

        let csv = dir.appendingPathComponent("reviews.csv")
        try Data("id,body\n1,\"Loved it,\nreally\"\n2,\n3,Dull\n".utf8).write(to: csv)
        let rows = DocumentWalker.documents(of: InputPath(path: csv.path), mode: .csvColumn("body"))
        #expect(rows.map(\.line) == [2, 4, 5])
        #expect(rows.map(\.text) == ["Loved it,\nreally", "", "Dull"])
        #expect(rows[1].error != nil)
        let missing = DocumentWalker.documents(of: InputPath(path: csv.path), mode: .csvColumn("text"))
        #expect(missing.count == 1 && missing[0].error?.contains("id, body") == true)
    }
}
