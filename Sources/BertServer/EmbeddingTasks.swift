import BertBLAS
import Foundation

/// How a route turns one input into an encoding: TEI's truncation rule (truncate when asked or
/// when the server auto-truncates, else 422 past the model's length) and token-id inputs.
struct InputEncoder: Sendable {
    let tokenizer: BertTokenizer
    let vocabularySize: Int
    /// Longest sequence, special tokens included.
    let maxLength: Int
    let truncate: Bool
    /// Lowercase before tokenizing (sentence-transformers' `do_lower_case`).
    var lowercase = false

    func encode(_ input: InputItem) throws -> Encoding {
        switch input {
        case .text(let raw):
            let text = lowercase ? raw.lowercased() : raw
            let encoding = tokenizer.encode(text)
            guard encoding.count > maxLength else { return encoding }
            guard truncate else {
                throw APIError(.validation, "Input validation error: `inputs` must have less than \(maxLength) tokens. Given: \(encoding.count)")
            }
            return tokenizer.encode(text, truncation: Truncation(maxLength: maxLength))
        case .ids(let ids):
            guard !ids.isEmpty else { throw APIError(.empty, "an input of token ids cannot be empty") }
            if let bad = ids.first(where: { Int($0) >= vocabularySize }) {
                throw APIError(.validation, "token id \(bad) is outside the vocabulary (size \(vocabularySize))")
            }
            var kept = ids.map { Int32($0) }
            if kept.count > maxLength {
                guard truncate else {
                    throw APIError(.validation, "Input validation error: `inputs` must have less than \(maxLength) tokens. Given: \(kept.count)")
                }
                kept = Array(kept.prefix(maxLength))
            }
            return Encoding(ids: kept, typeIds: Array(repeating: 0, count: kept.count),
                            tokens: tokenizer.convertIdsToTokens(kept),
                            offsets: Array(repeating: Offset(start: 0, end: 0), count: kept.count),
                            attentionMask: Array(repeating: 1, count: kept.count))
        }
    }
}

/// One pooled sentence vector per input, as `bert embed` (sentence-transformers' pooling),
/// before the request's `dimensions` and `normalize`.
struct PooledEmbeddingTask: EncoderTask {
    struct Output: Sendable {
        var vector: [Float]
        var tokens: Int
    }

    let model: LoadedModel
    /// Pooling settings of the folder, with normalization off (the request decides).
    let embedder: SentenceEmbedder
    let inputs: InputEncoder

    func encode(_ input: InputItem) throws -> [Encoding] { [try inputs.encode(input)] }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [Float] {
        embedder.pool(output, sequence: b)
    }

    func finish(_ input: InputItem, encodings: [Encoding], partials: [[Float]]) throws -> Output {
        guard let vector = partials.first, let encoding = encodings.first else {
            throw APIError(.backend, "no encoder output for an input")
        }
        return Output(vector: vector, tokens: encoding.count)
    }
}

/// Every token's last hidden state (`/embed_all`), special tokens included.
struct TokenEmbeddingTask: EncoderTask {
    let model: LoadedModel
    let inputs: InputEncoder

    func encode(_ input: InputItem) throws -> [Encoding] { [try inputs.encode(input)] }

    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> [[Float]] {
        let h = output.hiddenSize, states = output.hiddenStates(sequence: b)
        return (0..<output.lengths[b]).map { t in Array(states[(t * h)..<((t + 1) * h)]) }
    }

    func finish(_ input: InputItem, encodings: [Encoding], partials: [[[Float]]]) throws -> [[Float]] {
        partials.first ?? []
    }
}

enum VectorMath {
    /// Keeps the first `dimensions` values, then L2-normalizes when asked (TEI's order).
    static func finish(_ vector: [Float], dimensions: Int?, normalize: Bool) -> [Float] {
        var out = dimensions.map { Array(vector.prefix($0)) } ?? vector
        if normalize {
            let norm = out.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = 1 / max(norm, 1e-12)
            for i in out.indices { out[i] *= scale }
        }
        return out
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for i in 0..<min(a.count, b.count) {
            dot += a[i] * b[i]
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        return dot / max(na.squareRoot() * nb.squareRoot(), 1e-12)
    }

    /// OpenAI's base64 encoding: the float32 values, little-endian, base64.
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }
}
