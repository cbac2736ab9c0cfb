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

    /// The classify embedder sizes its workspace from `--batch-size` directly.
    @Test func documentEmbedderWithHugeBatchSizeThrows() throws {
        #expect(throws: BertError.self) { try WindowEmbedder(directory: Self.tiny, batchSize: .max) }
    }
}
