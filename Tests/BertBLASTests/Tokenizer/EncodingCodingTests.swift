import Foundation
import Testing
@testable import BertBLAS

/// `Encoding` as JSON: HF's field names, a lossless round trip (overflow windows included), and
/// refusals that name the key.
@Suite struct EncodingCodingTests {
    @Test func roundTripKeepsHFsEncodingsAndUsesHFNames() throws {
        let tokenizer = try #require(TokenizerParityTests.miniLM)
        let records = try TokenizerParityTests.records("minilm_pairs.jsonl").filter { $0["error"] == nil }
        try #require(records.count >= 10, "minilm_pairs.jsonl has \(records.count) usable records")
        var failures: [String] = []
        var windows = 0
        for r in records {
            let e = tokenizer.encode(r["text"] as? String ?? "", pair: r["pair"] as? String,
                                     truncation: TokenizerParityTests.truncation(r["truncation"]),
                                     addSpecialTokens: r["add_special_tokens"] as? Bool ?? true)
            windows += e.overflowing.count
            let data = try JSONEncoder().encode(e)
            let decoded = try JSONDecoder().decode(Encoding.self, from: data)
            if decoded != e { failures.append("\(r["text"] ?? ""): the round trip changed the encoding") }
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            if TokenizerParityTests.ints(object["input_ids"]) != TokenizerParityTests.ints(r["ids"])
                || TokenizerParityTests.ints(object["token_type_ids"]) != TokenizerParityTests.ints(r["type_ids"])
                || TokenizerParityTests.offsets(object["offsets"]) != TokenizerParityTests.offsets(r["offsets"])
                || TokenizerParityTests.optionalInts(object["word_ids"]) != TokenizerParityTests.optionalInts(r["word_ids"]) {
                failures.append("\(r["text"] ?? ""): JSON fields differ from HF's")
            }
            failures += TokenizerParityTests.differences(decoded, r)
        }
        #expect(windows > 0, "no record has overflow windows: the round trip of `overflowing` is untested")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
    }

    @Test func onlyInputIdsAreRequired() throws {
        let e = try JSONDecoder().decode(Encoding.self, from: Data(#"{"input_ids":[101,7592,102]}"#.utf8))
        #expect(e.ids == [101, 7592, 102])
        #expect(e.typeIds == [0, 0, 0] && e.attentionMask == [1, 1, 1] && e.specialTokensMask == [0, 0, 0])
        #expect(e.offsets == Array(repeating: Offset(start: 0, end: 0), count: 3))
        #expect(e.wordIds == [nil, nil, nil] && e.overflowing.isEmpty)
    }

    @Test func badArraysAreRefusedByName() {
        let cases = [
            (#"{"input_ids":[1,2],"attention_mask":[1]}"#, "attention_mask has 1 elements for 2 input_ids"),
            (#"{"input_ids":[1],"offsets":[[3,1]]}"#, "offsets[0] is [3, 1]"),
            (#"{"input_ids":[1],"offsets":[[0,1,2]]}"#, "offsets[0] is [0, 1, 2]"),
            (#"{"token_type_ids":[0]}"#, "input_ids"),
        ]
        for (json, mention) in cases {
            do {
                _ = try JSONDecoder().decode(Encoding.self, from: Data(json.utf8))
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(mention), "\(json): \(error)")
            }
        }
    }
}
