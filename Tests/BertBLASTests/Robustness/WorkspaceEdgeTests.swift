import Foundation
import Testing
@testable import BertBLAS

/// Workspace sizes come from callers (e.g. `--batch-size`): too large is an error, not a trap.
@Suite struct WorkspaceEdgeTests {
    static let tiny = Paths.golden("encoder/tiny-gelu-uncased")

    /// Before: `maxBatch * maxLength * hidden` overflowed (Int.max) or `.allocate` trapped on a
    /// refused allocation (2^40 sequences: 8 PB).
    @Test func hugeBatchThrows() throws {
        let model = try BertModel(directory: Self.tiny)
        for batch in [Int.max, Int.max / 8, 1 << 40] {
            do {
                _ = try model.makeWorkspace(maxBatch: batch, maxLength: 8)
                Issue.record("workspace for \(batch) sequences")
            } catch let error as BertError {
                #expect(error.kind == .invalidInput)
                #expect(error.message.contains("\(batch) sequences"), "\(error.message)")
            }
        }
        // A normal workspace still works after the refusals.
        let ws = try model.makeWorkspace(maxBatch: 2, maxLength: 8)
        #expect(try model.forward(ids: [[2, 5, 3], [2, 3]], workspace: ws).batchSize == 2)
        #expect(Workspace.floatCount(config: model.config, maxBatch: .max, maxLength: 8) == .max)
    }

    /// The document embedder used to size a workspace it owned from `--batch-size` directly, so
    /// `.max` had to throw. It now borrows one per call, sized by the windows it actually runs:
    /// a huge batch size embeds normally (as a small one does); a size below 1
    /// is still an error.
    @Test func documentEmbedderWithHugeBatchSizeBorrowsASmallWorkspace() throws {
        let huge = try WindowEmbedder(directory: Self.tiny, batchSize: .max)
        let small = try WindowEmbedder(sentence: huge.sentence, batchSize: 2)
        let texts = ["a short one", "another short text", "and a third"]
        let windows = try huge.embed(documents: texts, mode: .chunk)
        let reference = try small.embed(documents: texts, mode: .chunk).features
        #expect(windows.features.rows == 3 && reference.rows == 3)
        #expect(zip(windows.features.values, reference.values).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(windows.windowCounts == [1, 1, 1])
        let pool = huge.model.workspaces.statistics
        #expect(pool.borrowed == 0 && pool.created >= 1)
        #expect(throws: BertError.self) { try WindowEmbedder(directory: Self.tiny, batchSize: 0) }
        #expect(throws: BertError.self) { try WindowEmbedder(sentence: huge.sentence, batchSize: 0) }
    }
}
