import Foundation
import Testing
@testable import BertBLAS

/// Hostile tokenizer.json texts throw `BertError.invalidFile` naming the file; none traps.
@Suite struct TokenizerJSONRobustnessTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// Before: 100,000 nested `[` recursed once per level and overflowed the stack (SIGSEGV).
    @Test func deepNestingThrows() throws {
        for open in ["[", "{\"a\":"] {
            let text = Array(String(repeating: open, count: 100_000).utf8)
            do {
                _ = try TokenizerJSON.parse(text, path: "deep.json")
                Issue.record("parsed \(open) x 100000")
            } catch let error as BertError {
                #expect(error.kind == .invalidFile)
                #expect(error.message.contains("deep.json"))
                #expect(error.message.contains("nested deeper"))
            }
        }
        // 128 levels, serde_json's limit, still parse.
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try TokenizerJSON.parse(Array(ok.utf8), path: "ok.json") }
    }

    @Test func loneSurrogatesAndBadEscapes() throws {
        let lone = try TokenizerJSON.parse(Array(#"["\ud800", "\udc00x", "\ud800\u0041", "\uD83D\uDE00"]"#.utf8), path: "s.json")
        #expect(lone.array?.map { $0.string ?? "?" } == ["\u{FFFD}", "\u{FFFD}x", "\u{FFFD}A", "😀"])
        for bad in [#""\u12""#, #""\x""#, #""abc"#, #""\"#] {
            #expect(throws: BertError.self) { try TokenizerJSON.parse(Array(bad.utf8), path: "s.json") }
        }
    }
}
