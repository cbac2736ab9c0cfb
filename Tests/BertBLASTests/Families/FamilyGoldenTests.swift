import Foundation
import Testing
@testable import BertBLAS

/// Every family against transformers 4.57.1 on tiny random checkpoints (scripts/goldens_families.py):
/// the encoder's last hidden state (every checkpoint × kernel), each head's raw outputs from ids,
/// and whole pipelines (tokenizer → encoder → head → decoding) where the tokenizer is read.
@Suite struct FamilyGoldenTests {
    static let tolerance: Float = 1e-4

    @Test(arguments: FamilyGoldens.encoders, Kernel.allCases)
    func lastHiddenStateMatchesTransformers(name: String, kernel: Kernel) throws {
        let hidden = try #require(try FamilyGoldens.checkpoint(name).hidden)
        let model = try BertModel(directory: FamilyGoldens.model(name), kernel: kernel)
        let ws = try model.makeWorkspace(maxBatch: hidden.input_ids.count, maxLength: 48)
        let out = try model.forward(ids: hidden.input_ids, typeIds: hidden.token_type_ids, workspace: ws)
        #expect(out.tokenCount == hidden.input_ids.map(\.count).reduce(0, +))
        for b in 0..<out.batchSize {
            let diff = FamilyGoldens.maxAbs(out.hiddenStates(sequence: b), hidden.last_hidden_state[b])
            #expect(diff <= Self.tolerance, "\(name) \(kernel) sequence \(b): hidden max abs \(diff)")
        }
        #expect((out.pooledOutput != nil) == (hidden.pooler_output != nil), "\(name): pooler")
        if let pooler = hidden.pooler_output {
            for b in 0..<out.batchSize {
                let diff = FamilyGoldens.maxAbs(try out.pooled(sequence: b), pooler[b])
                #expect(diff <= Self.tolerance, "\(name) \(kernel) sequence \(b): pooler max abs \(diff)")
            }
        }
    }

    /// Each head's raw outputs from the golden ids: covers a family whose tokenizer is not read yet.
    @Test(arguments: FamilyGoldens.heads)
    func headOutputsFromIdsMatchTransformers(name: String) throws {
        let golden = try FamilyGoldens.checkpoint(name)
        let model = try BertModel(directory: FamilyGoldens.model(name))
        let config = model.config
        let ws = try model.makeWorkspace(maxBatch: 1, maxLength: 48)
        #expect(!golden.logits.isEmpty)
        for c in golden.logits {
            let out = try model.forward(ids: [c.input_ids], typeIds: c.token_type_ids.map { [$0] }, workspace: ws)
            let states = out.hiddenStates(sequence: 0)
            #expect(states.baseAddress != nil)
            let rows = c.input_ids.count
            switch golden.head {
            case "cls":
                let head = try SequenceClassificationHead(model.weights, config: config)
                #expect(head.labels == golden.labels)
                let got = try head.forward(out, sequence: 0, workspace: ws, kernel: model.kernel)
                let diff = FamilyGoldens.maxAbs(got, try #require(c.logits).values)
                #expect(diff <= Self.tolerance, "\(name): sequence logits \(diff)")
            case "ner":
                let head = try ClassifierHead(model.weights, names: config.tensorNames.heads.tokenClassifier,
                                              config: config, task: .tokenClassification)
                let diff = FamilyGoldens.maxAbs(head.forward(states, rows: rows, kernel: model.kernel), try #require(c.logits).values)
                #expect(diff <= Self.tolerance, "\(name): token logits \(diff)")
            case "qa":
                let head = try QuestionAnsweringHead(model.weights, config: config)
                let (start, end) = head.forward(states, rows: rows, kernel: model.kernel)
                #expect(FamilyGoldens.maxAbs(start, try #require(c.start_logits)) <= Self.tolerance, "\(name): start")
                #expect(FamilyGoldens.maxAbs(end, try #require(c.end_logits)) <= Self.tolerance, "\(name): end")
            default:
                let head = try MaskedLMHead(model.weights, config: config)
                let p = try #require(c.mask_position)
                var logits: [Float] = []
                try head.forEachLogits(states, positions: [p], workspace: ws, kernel: model.kernel) { _, row in
                    logits = Array(row)
                }
                let diff = FamilyGoldens.maxAbs(logits, try #require(c.logits).values)
                #expect(diff <= Self.tolerance, "\(name): MLM logits \(diff)")
            }
        }
    }

    @Test(arguments: FamilyGoldens.pipelines)
    func pipelineOutputsMatchTransformers(name: String) throws {
        let golden = try FamilyGoldens.checkpoint(name)
        let cases = try FamilyGoldens.pipelines(name)
        try #require(!cases.isEmpty)
        let folder = FamilyGoldens.model(name)
        switch golden.head {
        case "cls":
            let classifier = try SequenceClassifier(directory: folder)
            let results = try classifier.classify(cases.map { $0.string("text") }, pairs: cases.map { $0["pair"] as? String })
            for (c, got) in zip(cases, results) {
                let want = c.objects("results")
                #expect(got.ranked.map(\.label) == want.map { $0.string("label") }, "\(name): \(c.string("text"))")
                for (g, w) in zip(got.ranked, want) {
                    #expect(abs(Double(g.score) - w.double("score")) < 1e-4, "\(name): \(g) vs \(w)")
                }
            }
        case "ner":
            let tagger = try TokenClassifier(directory: folder)
            var compared = 0
            for c in cases {
                for strategy in AggregationStrategy.allCases {
                    let got = try tagger.entities(in: c.string("text"), aggregation: strategy)
                    let want = (c.object("results")[strategy.rawValue] as? [[String: Any]]) ?? []
                    #expect(got.count == want.count, "\(name) \(strategy) \(c.string("text"))")
                    for (g, w) in zip(got, want) {
                        let label = strategy == .none ? w.string("entity") : w.string("entity_group")
                        #expect(g.label == label && g.word == w.string("word") && g.start == w.int("start")
                                && g.end == w.int("end"), "\(name) \(strategy): \(g) vs \(w)")
                        #expect(abs(Double(g.score) - w.double("score")) < 1e-4, "\(name) \(strategy): \(g) vs \(w)")
                        compared += 1
                    }
                }
            }
            #expect(compared > 20)
        case "qa":
            let reader = try QuestionAnswerer(directory: folder)
            for c in cases {
                let p = c.object("params")
                let options = QuestionAnsweringOptions(
                    maxSeqLen: p["max_seq_len"] as? Int, docStride: p["doc_stride"] as? Int,
                    maxAnswerLen: (p["max_answer_len"] as? Int) ?? 15, topK: (p["top_k"] as? Int) ?? 1,
                    handleImpossibleAnswer: (p["handle_impossible_answer"] as? Bool) ?? false)
                let got = try reader.answer(question: c.string("question"), context: c.string("context"), options: options)
                let want = c.objects("answers")
                #expect(got.count == want.count, "\(name) \(c.string("name"))")
                for (g, w) in zip(got, want) {
                    #expect(g.answer == w.string("answer") && g.start == w.int("start") && g.end == w.int("end"),
                            "\(name) \(c.string("name")): \(g) vs \(w)")
                    #expect(abs(g.score - w.double("score")) < 1e-4, "\(name) \(c.string("name")): \(g) vs \(w)")
                }
            }
        default:
            let filler = try MaskFiller(directory: folder)
            for c in cases {
                let p = c.object("params")
                let targets = try (p["targets"] as? [String]).map { try filler.targetIds($0).ids }
                let got = try filler.fill(c.string("text"), topK: (p["top_k"] as? Int) ?? 5, targets: targets)
                try PipelineTests.compareFills(got, (c["results"] as? [[[String: Any]]]) ?? [], "\(name) \(c.string("name"))")
            }
        }
    }

    /// PretrainingScorer on DistilBERT (type_vocab_size 0): a pair example's type ids are ignored,
    /// as the forward pass ignores them, and the loss is the cross-entropy of transformers' MLM
    /// logits; a family that reads type ids (ELECTRA) still rejects one outside its table.
    @Test func pretrainingScorerOnAFamilyWithoutTokenTypes() throws {
        let c = try #require(try FamilyGoldens.checkpoint("distilbert-mlm").logits.first)
        let p = try #require(c.mask_position)
        let logits = try #require(c.logits).values.map(Double.init)
        let target = logits.count / 3
        let peak = logits.max() ?? 0
        let expected = peak + log(logits.reduce(0) { $0 + exp($1 - peak) }) - logits[target]
        var labels = [Int32](repeating: MLMMasker.ignoreLabel, count: c.input_ids.count)
        labels[p] = Int32(target)
        let types = c.input_ids.indices.map { Int32($0 < c.input_ids.count / 2 ? 0 : 1) }
        let scorer = try PretrainingScorer(directory: FamilyGoldens.model("distilbert-mlm"))
        let scores = try scorer.score([ScoringExample(inputIds: c.input_ids, tokenTypeIds: types, labels: labels),
                                       ScoringExample(inputIds: c.input_ids, labels: labels)])
        #expect(scores.count == 2 && scores[0].maskedTokens == 1)
        #expect(abs(scores[0].mlmLossSum - expected) < 1e-3, "\(scores[0].mlmLossSum) vs transformers \(expected)")
        #expect(abs(scores[0].mlmLossSum - scores[1].mlmLossSum) < 1e-6)

        let electra = try PretrainingScorer(directory: FamilyGoldens.model("electra-mlm"))
        let bad = ScoringExample(inputIds: c.input_ids, tokenTypeIds: types.map { $0 * 2 }, labels: labels)
        let error = #expect(throws: BertError.self) { try electra.score([bad]) }
        #expect(error?.message.contains("type_vocab_size 2") == true, "\(error?.message ?? "")")
    }

    /// The HF class named in a wrong-checkpoint error is the family's, with every tensor tried.
    @Test func wrongCheckpointNamesTheFamilyClass() throws {
        let error = #expect(throws: BertError.self) { try QuestionAnswerer(directory: FamilyGoldens.model("distilbert-cls")) }
        #expect(error?.kind == .missingTensor)
        #expect(error?.message.contains("not a DistilBertForQuestionAnswering checkpoint") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("DistilBertForSequenceClassification") == true)
        #expect(error?.message.contains("qa_outputs.weight") == true)
        let mlm = #expect(throws: BertError.self) { try MaskFiller(directory: FamilyGoldens.model("electra-cls")) }
        #expect(mlm?.message.contains("ElectraForMaskedLM") == true && mlm?.message.contains("generator_predictions.dense.weight") == true,
                "\(mlm?.message ?? "")")
        let roberta = try BertModel(directory: FamilyGoldens.model("roberta-qa"))
        let cls = #expect(throws: BertError.self) { try SequenceClassificationHead(roberta.weights, config: roberta.config) }
        #expect(cls?.message.contains("classifier.dense.weight") == true && cls?.message.contains("classifier.out_proj.weight") == true,
                "\(cls?.message ?? "")")
        let nsp = #expect(throws: BertError.self) { try NextSentencePredictor(directory: FamilyGoldens.model("distilbert-mlm")) }
        #expect(nsp?.kind == .unsupported)
    }
}
