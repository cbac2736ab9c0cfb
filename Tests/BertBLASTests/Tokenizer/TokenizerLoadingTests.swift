import Foundation
import Testing
@testable import BertBLAS

/// Loading errors and the vocab.txt path: every error names the file.
@Suite struct TokenizerLoadingTests {
    static func temporaryFolder(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("bertblas-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
        }
        return dir
    }

    @Test func missingVocabularyNamesTheFile() throws {
        let dir = try Self.temporaryFolder(["config.json": "{}"])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try BertTokenizer(directory: dir)
            Issue.record("loading a folder without vocab.txt or tokenizer.json succeeded")
        } catch let error as BertError {
            #expect(error.kind == .io)
            #expect(error.message.contains(dir.appendingPathComponent("vocab.txt").path))
        }
    }

    @Test func vocabularyWithoutUnknownTokenNamesTheFile() throws {
        let dir = try Self.temporaryFolder(["vocab.txt": "[PAD]\n[CLS]\n[SEP]\nhello\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try BertTokenizer(directory: dir)
            Issue.record("a vocabulary without [UNK] loaded")
        } catch let error as BertError {
            #expect(error.kind == .invalidFile)
            #expect(error.message.contains(dir.appendingPathComponent("vocab.txt").path))
            #expect(error.message.contains("[UNK]"))
        }
    }

    @Test func tokenizerJSONWithoutUnknownTokenNamesTheFile() throws {
        let json = """
            {"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[CLS]": 0, "[SEP]": 1, "[PAD]": 2}}}
            """
        let dir = try Self.temporaryFolder(["tokenizer.json": json])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: BertError.self) { _ = try BertTokenizer(directory: dir) }
        do {
            _ = try BertTokenizer(directory: dir)
        } catch let error as BertError {
            #expect(error.message.contains("tokenizer.json"))
        }
    }

    @Test func malformedTokenizerJSONNamesTheFile() throws {
        let dir = try Self.temporaryFolder(["tokenizer.json": "{not json"])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try BertTokenizer(directory: dir)
            Issue.record("malformed tokenizer.json loaded")
        } catch let error as BertError {
            #expect(error.kind == .invalidFile)
            #expect(error.message.contains("tokenizer.json"))
        }
    }

    @Test func farOutVocabularyIdIsRejectedNamingTheFile() throws {
        let json = """
            {"model": {"type": "WordPiece", "unk_token": "[UNK]",
                       "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 2000000000}}}
            """
        let dir = try Self.temporaryFolder(["tokenizer.json": json])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try BertTokenizer(directory: dir)
            Issue.record("a vocabulary id of 2e9 loaded")
        } catch let error as BertError {
            #expect(error.kind == .invalidFile)
            #expect(error.message.contains("tokenizer.json"))
            #expect(error.message.contains("[PAD]"))
        }
    }
}
