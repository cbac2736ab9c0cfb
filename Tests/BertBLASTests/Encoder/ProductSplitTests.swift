import Foundation
import Testing
@testable import BertBLAS

/// Every way of cutting the encoder's products over the threads (`ProductSplit`) gives the
/// transformers goldens. The split is passed to each layer, not set process-wide, so suites running
/// at the same time keep theirs; one OpenBLAS call on its own threads is left out for that reason
/// (it would put OpenBLAS on several threads under the other suites' passes).
@Suite struct ProductSplitTests {
    static let splits: [ProductSplit] = [
        ProductSplit(columnBlocksPerThread: 1),
        ProductSplit(columnBlocksPerThread: 4),
        ProductSplit(rowPanelTokensPerThread: 0),
        ProductSplit(rowPanelTokensPerThread: 0, panelRows: 8),
        ProductSplit(rowPanelTokensPerThread: 0, panelRows: 64),
    ]

    @Test(arguments: splits)
    func everySplitGivesTheGoldens(split: ProductSplit) throws {
        let (folder, expected) = try EncoderGoldenTests.load("tiny-gelu-uncased")
        let model = try BertModel(directory: folder)
        let ws = try model.makeWorkspace(maxBatch: expected.input_ids.count, maxLength: 32)
        // The default pass sets the workspace's sequence layout; the same pass again with `split`.
        _ = try model.forward(ids: expected.input_ids, typeIds: expected.token_type_ids, workspace: ws)
        let n = ws.lengths.reduce(0, +)
        model.embeddings.forward(ids: expected.input_ids, typeIds: expected.token_type_ids, workspace: ws,
                                 tokens: n, kernel: model.kernel)
        for layer in model.layers { layer.forward(ws, tokens: n, kernel: model.kernel, split: split) }
        let h = model.config.hiddenSize
        for b in expected.input_ids.indices {
            let rows = UnsafeBufferPointer(start: ws.hidden + ws.starts[b] * h, count: ws.lengths[b] * h)
            let diff = EncoderGoldenTests.maxAbs(rows, expected.last_hidden_state[b])
            #expect(diff <= 1e-4, "sequence \(b), split \(split): \(diff)")
        }
    }
}
