import Foundation
import Testing
@testable import BertBLAS

/// Tasks whose reading depends on the input (fill-mask's topK and targets) run through the engine
/// as they do directly. The engine packs its own batches (no padding, and the split depends on when
/// requests arrive), so the same tokens come back with scores equal up to float summation order.
@Suite struct EngineInputTaskTests {
    @Test func fillMaskThroughTheEngineEqualsTheDirectCall() async throws {
        let model = try LoadedModel(directory: Paths.headModels.appendingPathComponent("mlm"))
        let filler = try MaskFiller(model: model)
        let inputs = [MaskFiller.Input("Paris is the [MASK] of France.", topK: 3),
                      MaskFiller.Input("John Smith works at [MASK] in London.", topK: 2, targets: [1512, 924])]
        let direct = try filler.run(inputs)
        let engine = try BatchingEngine(model: model)
        let served = try await engine.run(filler, inputs)
        await engine.shutdown()
        #expect(served.count == 2)
        #expect(served[0].count == 1 && served[0][0].count == 3)
        #expect(served[1][0].count == 2)
        for (s, d) in zip(served, direct) {
            for (servedFills, directFills) in zip(s, d) {
                #expect(servedFills.map(\.token) == directFills.map(\.token))
                #expect(servedFills.map(\.sequence) == directFills.map(\.sequence))
                for (a, b) in zip(servedFills, directFills) {
                    #expect(abs(a.score - b.score) <= 1e-5 * max(abs(b.score), 1e-3),
                            "score \(a.score) served vs \(b.score) direct for token \(a.token)")
                }
            }
        }
    }
}
