import Foundation
import Testing
@testable import BertBLAS

/// Tasks whose reading depends on the input (fill-mask's topK and targets) run through the engine
/// as they do directly.
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
        #expect(served == direct)
    }
}
