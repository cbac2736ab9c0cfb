import Foundation
import Testing
@testable import BertBLAS

/// Reads the family goldens written by scripts/goldens_families.py (Tests/Goldens/families/).
///
/// Adding a family: a row in the script's TABLE, then its name in the argument lists below.
enum FamilyGoldens {
    /// Checkpoints with a last-hidden-state golden: the sequence-classification ones (prefixed
    /// names) and the bare models (`-base`: unprefixed names, as sentence-transformers saves them).
    static let encoders = ["distilbert-cls", "distilbert-base", "distilbert-sinusoidal-cls", "electra-cls", "electra-base",
                           "roberta-cls", "xlm-roberta-cls", "finbert-cls"]
    /// Every head checkpoint, for the from-ids head tests.
    static let heads = ["distilbert-cls", "distilbert-ner", "distilbert-qa", "distilbert-mlm", "distilbert-sinusoidal-cls",
                        "electra-cls", "electra-ner", "electra-qa", "electra-mlm",
                        "roberta-cls", "roberta-ner", "roberta-qa", "roberta-mlm",
                        "xlm-roberta-cls", "xlm-roberta-ner", "xlm-roberta-qa", "xlm-roberta-mlm", "finbert-cls"]
    /// The head checkpoints for the whole-pipeline tests (tokenizer → encoder → head → decoding).
    /// The `xlm-roberta-*` checkpoints read XLM-R's Unigram tokenizer.json (a real SentencePiece
    /// model, see scripts/goldens_families.py). `roberta-ner` checks the byte-level BPE entity words (the decoder's " Smith") and
    /// transformers' sub-word fallback for tokenizers without a continuing-subword prefix.
    static let pipelines = heads

    /// The last hidden state (and pooler output when the family has a pooler) of a padded batch.
    struct Hidden: Decodable {
        /// The single texts, whose encodings come first in `input_ids` (the pairs follow).
        var texts: [String]
        var input_ids: [[Int32]]
        /// Absent when the family's tokenizer returns no type ids (DistilBERT, RoBERTa).
        var token_type_ids: [[Int32]]?
        var last_hidden_state: [[Float]]
        /// Absent when the family has no pooler (DistilBERT, ELECTRA, or a task checkpoint without one).
        var pooler_output: [[Float]]?
    }

    /// One head's raw outputs for one input.
    struct Logits: Decodable {
        var input_ids: [Int32]
        var token_type_ids: [Int32]?
        var logits: FlatOrRows?
        var start_logits: [Float]?
        var end_logits: [Float]?
        var mask_position: Int?
    }

    /// `[L]` or `[T, L]`.
    enum FlatOrRows: Decodable {
        case flat([Float]), rows([[Float]])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let rows = try? c.decode([[Float]].self) { self = .rows(rows) } else { self = .flat(try c.decode([Float].self)) }
        }

        var values: [Float] {
            switch self {
            case .flat(let v): v
            case .rows(let r): r.flatMap { $0 }
            }
        }
    }

    struct Checkpoint: Decodable {
        var head: String
        var labels: [String]?
        var hidden: Hidden?
        var logits: [Logits]
    }

    struct File: Decodable {
        var family: String
        var checkpoints: [String: Checkpoint]
    }

    /// `distilbert-sinusoidal-cls` → `distilbert-sinusoidal`.
    static func family(of checkpoint: String) -> String {
        String(checkpoint[..<(checkpoint.lastIndex(of: "-") ?? checkpoint.endIndex)])
    }

    static func file(_ family: String) throws -> File {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: Paths.golden("families/\(family).json")))
    }

    static func checkpoint(_ name: String) throws -> Checkpoint {
        try #require(try file(family(of: name)).checkpoints[name], "no golden for \(name)")
    }

    /// The pipeline outputs of a checkpoint, untyped (they follow the heads goldens' shapes).
    static func pipelines(_ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: Paths.golden("families/\(family(of: name)).json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let checkpoint = (object?["checkpoints"] as? [String: Any])?[name] as? [String: Any]
        return checkpoint?["pipelines"] as? [[String: Any]] ?? []
    }

    static func model(_ name: String) -> URL { Paths.golden("families/models/\(name)") }

    static func maxAbs<C: Collection<Float>>(_ a: C, _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
