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

/// One length check for both runners: the direct loop and the engine refuse the same sequences with
/// the same message, and both count real tokens (right padding is not a token).
@Suite struct SequenceLengthCheckTests {
    @Test func directAndEngineRefuseAnOverlongInputAlike() async throws {
        let model = try EngineTesting.requireModel()
        let positions = model.config.maxSequenceLength
        let task = MeanPoolTask(model: model, maxLength: positions + 200)
        let long = Array(repeating: "word", count: positions + 50).joined(separator: " ")
        let direct = try task.results([long, "a short one"])
        let expected = "exceeds the model's \(positions) positions"
        guard case .failure(let directError) = direct[0] else {
            Issue.record("the direct loop ran a sequence longer than \(positions) tokens")
            return
        }
        #expect("\(directError)".contains("input 1: a sequence of \(positions + 52) tokens \(expected)"))
        #expect((try? direct[1].get()) != nil, "the short input must still run")
        let engine = try BatchingEngine(model: model)
        do {
            _ = try await engine.run(task, [long])
            Issue.record("the engine ran a sequence longer than \(positions) tokens")
        } catch {
            #expect("\(error)" == "\(directError)")
        }
        await engine.shutdown()
    }

    @Test func paddingIsNotCountedAndEmptyIsRefused() throws {
        let model = try EngineTesting.requireModel()
        let positions = model.config.maxSequenceLength
        let real = model.tokenizer.encode("padded beyond the positions")
        var padded = real
        let pad = positions + 10 - real.count
        padded.ids += Array(repeating: 0, count: pad)
        padded.attentionMask += Array(repeating: 0, count: pad)
        #expect(try model.encoder.checkFits(padded, input: 0) == real.count)
        #expect(throws: BertError.self) { try model.encoder.checkFits(Encoding(), input: 3) }
        do {
            _ = try model.encoder.checkFits(Encoding(), input: 3)
        } catch {
            #expect("\(error)".contains("input 4: a sequence has no tokens"))
        }
    }
}
