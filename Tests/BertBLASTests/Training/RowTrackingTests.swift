import Foundation
import Testing
@testable import BertBLAS

/// The word embeddings' row tracking (`ParameterSet.RowTracking`): zeroing, the gradient norm and
/// AdamW visit only the rows a batch wrote, and give what the whole-arena passes give, bit for bit.
@Suite struct RowTrackingTests {
    /// Three steps on different batches of the tiny checkpoint: one model with its rows tracked
    /// (norm and clipping inside the update), one whose word gradient is read whole after each
    /// backward (which marks it written whole, so every pass runs over the whole arena) and
    /// clipped by `clipGradients`. The clipping factor is below 1 in every step.
    @Test func trackedRowsGiveTheDenseStepsBitForBit() throws {
        let (folder, expected) = try GradientParityTests.load("cls-single")
        let tracked = try TrainableSequenceClassifier(directory: folder)
        let dense = try TrainableSequenceClassifier(directory: folder)
        let ws = try tracked.makeWorkspace(maxBatch: 4, maxLength: 16)
        let denseWs = try dense.makeWorkspace(maxBatch: 4, maxLength: 16)
        let sparseOptimizer = AdamW(for: tracked.parameters)
        let denseOptimizer = AdamW(for: dense.parameters)
        let word = try #require(dense.parameters.entries.first { $0.name.hasSuffix("word_embeddings.weight") })
        guard case .classes(let labels) = expected.targets else { Issue.record("cls-single has class labels"); return }
        let batches = [Array(0..<expected.ids.count), [0], Array(1..<expected.ids.count)]
        var ids: Set<Int32> = []
        for (step, batch) in batches.enumerated() {
            let batchIds = batch.map { expected.ids[$0] }, types = batch.map { expected.type_ids[$0] }
            let targets = TrainingTargets.classes(batch.map { labels[$0] })
            batchIds.forEach { ids.formUnion($0) }
            tracked.parameters.zeroGradients()
            dense.parameters.zeroGradients()
            #expect(tracked.parameters.gradients.allSatisfy { $0 == 0 }, "step \(step): zeroing left a gradient")
            _ = try tracked.lossAndGradients(ids: batchIds, typeIds: types, targets: targets, workspace: ws)
            _ = try dense.lossAndGradients(ids: batchIds, typeIds: types, targets: targets, workspace: denseWs)
            _ = dense.parameters.gradients(of: word)
            #expect(tracked.parameters.tracking?.dense == false && dense.parameters.tracking?.dense == true)
            let norm = try sparseOptimizer.update(tracked.parameters, learningRate: 1e-2, clippingNormTo: 0.05)
            let denseNorm = AdamW.clipGradients(dense.parameters, maxNorm: 0.05)
            try denseOptimizer.update(dense.parameters, learningRate: 1e-2)
            #expect(norm == denseNorm && norm > 0.05, "step \(step): norm \(norm), whole arena \(denseNorm)")
            #expect(tracked.parameters.values.elementsEqual(dense.parameters.values), "step \(step): the parameters differ")
        }
        // The tracked optimizer visited only the rows of the batches' ids (all but the padding id).
        let rows = try #require(tracked.parameters.tracking).written.count
        #expect(sparseOptimizer.activeRows.count == ids.subtracting([0]).count && sparseOptimizer.activeRows.count < rows)
        #expect(denseOptimizer.activeRows.isEmpty)
        tracked.parameters.zeroGradients()
        dense.parameters.zeroGradients()
        #expect(tracked.parameters.gradients.allSatisfy { $0 == 0 } && dense.parameters.gradients.allSatisfy { $0 == 0 })
    }
}
