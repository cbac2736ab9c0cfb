import Foundation
import Testing
@testable import BertBLAS

/// Hostile config.json values: every one loads or throws a `BertError` naming config.json (or the
/// weights file when the sizes disagree with the tensors); none traps or allocates from them.
@Suite struct ConfigEdgeTests {
    static let nli = Paths.golden("heads/models/cls-nli")

    /// A copy of the NLI classifier folder with `key` set to the raw JSON `value` (nil removes it).
    static func classifier(_ key: String, _ value: String?) throws -> Result<SequenceClassifier, BertError> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-config-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: nli, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        // The other keys as stored, then `key` with its raw value (JSON that JSONSerialization
        // could not write, such as 1e400 or 100,000 nested brackets).
        guard var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
              object.removeValue(forKey: key) != nil else {
            Issue.record("no \(key)")
            return .failure(BertError(.config, ""))
        }
        var text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        text.removeLast()
        if let value { text += ", \"\(key)\": \(value)" }
        text += "}"
        try Data(text.utf8).write(to: url)
        do { return .success(try SequenceClassifier(directory: dir)) } catch let e as BertError {
            #expect(e.message.contains(dir.path), "\(e.message)")
            return .failure(e)
        }
    }

    /// A folder without config.json says so, naming the file (was: "cannot read: The operation
    /// could not be completed").
    @Test func missingConfigIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bertblas-noconfig-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.nli, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: BertError.self) { try BertModel(directory: dir) }
        #expect(error?.kind == .io)
        #expect(error?.message.contains(dir.appendingPathComponent("config.json").path + ": no such file") == true, "\(error?.message ?? "")")
    }

    @Test func hostileSizesThrowNamingTheFile() throws {
        let cases: [(String, String?)] = [
            ("num_attention_heads", "0"), ("num_attention_heads", "5"), ("num_attention_heads", "-4"),
            ("hidden_size", "-32"), ("hidden_size", "4611686018427387904"), ("hidden_size", "1e400"),
            ("vocab_size", "0"), ("vocab_size", "9223372036854775807"), ("intermediate_size", "0"),
            ("num_hidden_layers", "100000"), ("num_hidden_layers", "0"), ("max_position_embeddings", "1"),
            ("max_position_embeddings", "4611686018427387904"), ("type_vocab_size", "0"),
            ("layer_norm_eps", "0"), ("layer_norm_eps", "-1e-12"), ("layer_norm_eps", "1e400"),
            ("hidden_act", "\"swish-ish\""), ("vocab_size", nil), ("hidden_size", "32.5"),
            ("hidden_size", "\"32\""), ("hidden_size", String(repeating: "[", count: 100_000)),
        ]
        for (key, value) in cases {
            let result = try Self.classifier(key, value)
            if case .success = result { Issue.record("\(key) = \(value ?? "removed") loaded") }
        }
    }

    @Test func id2labelEdges() throws {
        // Gaps, non-integer keys and a count that disagrees with the classifier's 3 outputs.
        for value in [#"{"0": "a", "2": "c", "3": "d"}"#, #"{"zero": "a", "1": "b", "2": "c"}"#,
                      #"{"0": "a", "1": "b"}"#, #"{"-1": "a", "0": "b", "1": "c"}"#,
                      #"{"9223372036854775808": "a", "0": "b", "1": "c"}"#, "[]"] {
            let line = value.replacingOccurrences(of: "\n", with: " ")
            guard case .failure(let e) = try Self.classifier("id2label", line) else {
                Issue.record("id2label \(value) loaded"); continue
            }
            #expect(e.kind == .config, "\(e.message)")
        }
        // Absent labels: HF's LABEL_i defaults.
        guard case .success(let classifier) = try Self.classifier("id2label", "{}") else {
            Issue.record("empty id2label rejected"); return
        }
        #expect(classifier.labels == ["LABEL_0", "LABEL_1", "LABEL_2"])
    }
}
