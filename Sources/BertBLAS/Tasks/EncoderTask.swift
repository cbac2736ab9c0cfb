import Foundation

/// A task as three stages around the encoder, so that whoever runs forward passes (a direct call
/// with a borrowed workspace, or the batching engine mixing many callers' sequences) can batch
/// sequences from several inputs:
///
/// 1. `encode`: input → one or more encodings (QA and long documents give several windows);
/// 2. `read`: one sequence of an encoder output → what the task keeps of it (a pooled vector,
///    logits), on the thread that ran the encoder, while the workspace is valid;
/// 3. `finish`: an input's partials, in encoding order → the result.
public protocol EncoderTask: Sendable {
    associatedtype Input: Sendable
    associatedtype Partial: Sendable
    associatedtype Output: Sendable

    /// The loaded model whose encoder this task reads.
    var model: LoadedModel { get }

    /// Tokenizes one input.
    ///
    /// - Throws: `BertError.invalidInput` naming the input's problem (empty, too long, ...).
    func encode(_ input: Input) throws -> [Encoding]

    /// Reads sequence `b` of `output` (the encoding it came from is `encoding`); `workspace` is the
    /// one `output` points into, for head scratch.
    func read(_ output: EncoderOutput, sequence b: Int, encoding: Encoding, workspace: Workspace) throws -> Partial

    /// Combines one input's partials (one per encoding, in order) into its result.
    func finish(_ input: Input, encodings: [Encoding], partials: [Partial]) throws -> Output
}

extension EncoderTask {
    /// Runs the task on `inputs` in this thread, in batches of at most `batchSize` sequences, with
    /// a workspace borrowed from the model's pool; results keep the input order.
    ///
    /// - Throws: the first input's error, `BertError.invalidInput` for a `batchSize` below 1.
    public func run(_ inputs: [Input], batchSize: Int = 32) throws -> [Output] {
        guard batchSize >= 1 else { throw BertError(.invalidInput, "batch size must be at least 1, got \(batchSize)") }
        let encoded = try inputs.map { try encode($0) }
        var sequences: [(input: Int, encoding: Encoding)] = []
        for (i, encodings) in encoded.enumerated() {
            for encoding in encodings { sequences.append((i, encoding)) }
        }
        var partials = encoded.map { [Partial?](repeating: nil, count: $0.count) }
        var nextSlot = [Int](repeating: 0, count: inputs.count)
        if !sequences.isEmpty {
            let longest = sequences.map(\.encoding.count).max() ?? 1
            let batch = min(batchSize, sequences.count)
            try model.workspaces.withWorkspace(maxBatch: batch, maxLength: max(longest, 1)) { workspace in
                var first = 0
                while first < sequences.count {
                    let slice = sequences[first..<min(first + batch, sequences.count)]
                    let output = try model.encoder.forward(slice.map(\.encoding), workspace: workspace)
                    for (b, item) in slice.enumerated() {
                        partials[item.input][nextSlot[item.input]] =
                            try read(output, sequence: b, encoding: item.encoding, workspace: workspace)
                        nextSlot[item.input] += 1
                    }
                    first += slice.count
                }
            }
        }
        return try inputs.indices.map { i in
            try finish(inputs[i], encodings: encoded[i], partials: partials[i].compactMap { $0 })
        }
    }

    /// Runs the task on one input.
    public func run(_ input: Input) throws -> Output {
        try run([input])[0]
    }
}
