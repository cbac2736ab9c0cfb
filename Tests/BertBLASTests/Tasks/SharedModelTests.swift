import Foundation
import Testing
@testable import BertBLAS

/// One `LoadedModel` shared by several tasks called at once from a TaskGroup (direct `run`
/// calls, each borrowing a workspace from the model's pool), against the HF goldens.
@Suite struct SharedModelTests {
    /// Classifier and document classifier on one loaded cls-stars model, plus the NER, QA,
    /// fill-mask and NSP models each shared by two concurrent callers: every result equals its golden.
    @Test func oneLoadedModelServesSeveralTasksConcurrently() async throws {
        let tolerance = 1e-4
        let stars = try LoadedModel(directory: HeadGoldens.model("cls-stars"))
        let classifier = try SequenceClassifier(model: stars)
        let documents = try DocumentClassifier(classifier: classifier)
        let embedder = try SentenceEmbedder(model: stars)
        struct Ranked: Sendable { var text: String; var labels: [String]; var scores: [Double] }
        let cls = try HeadGoldens.json("classify.json").object("models").object("cls-stars").objects("cases")
            .filter { $0["pair"] == nil }
            .map { c in Ranked(text: c.string("text"), labels: c.objects("results").map { $0.string("label") },
                               scores: c.objects("results").map { $0.double("score") }) }
        try #require(cls.count >= 5)
        let ner = try TokenClassifier(model: LoadedModel(directory: HeadGoldens.model("ner-bio")))
        let nerCases = try HeadGoldens.json("ner.json").object("models").object("ner-bio").objects("cases").map { c in
            let want = (c.object("results")["simple"] as? [[String: Any]]) ?? []
            return Ranked(text: c.string("text"), labels: want.map { $0.string("entity_group") }, scores: want.map { $0.double("score") })
        }
        let nsp = try NextSentencePredictor(model: LoadedModel(directory: HeadGoldens.model("nsp")))
        struct Pair: Sendable { var a: String; var b: String; var isNext: Double }
        let nspCases = try HeadGoldens.json("nsp.json").objects("cases").map {
            Pair(a: $0.string("a"), b: $0.string("b"), isNext: $0.double("is_next"))
        }
        let reader = try QuestionAnswerer(model: LoadedModel(directory: HeadGoldens.model("qa")))
        struct Span: Sendable, Equatable { var answer: String; var start: Int; var end: Int }
        struct Question: Sendable {
            var question: String; var context: String; var options: QuestionAnsweringOptions
            var spans: [Span]; var scores: [Double]
        }
        let qaCases = try HeadGoldens.json("qa.json").objects("cases").map { c in
            let p = c.object("params")
            return Question(question: c.string("question"), context: c.string("context"),
                            options: QuestionAnsweringOptions(
                                maxSeqLen: p["max_seq_len"] as? Int, docStride: p["doc_stride"] as? Int,
                                maxAnswerLen: (p["max_answer_len"] as? Int) ?? 15, topK: (p["top_k"] as? Int) ?? 1,
                                handleImpossibleAnswer: (p["handle_impossible_answer"] as? Bool) ?? false),
                            spans: c.objects("answers").map { Span(answer: $0.string("answer"), start: $0.int("start"), end: $0.int("end")) },
                            scores: c.objects("answers").map { $0.double("score") })
        }
        try #require(qaCases.count >= 5)
        let filler = try MaskFiller(model: LoadedModel(directory: HeadGoldens.model("mlm")))
        struct Fill: Sendable { var text: String; var topK: Int; var targets: [Int]?; var tokens: [[Int]]; var scores: [[Double]] }
        let fillCases = try HeadGoldens.json("fill_mask.json").objects("cases").map { c in
            let p = c.object("params")
            let want: [[[String: Any]]] = (c["results"] as? [[[String: Any]]]) ?? [c.objects("results")]
            return Fill(text: c.string("text"), topK: (p["top_k"] as? Int) ?? 5,
                        targets: try (p["targets"] as? [String]).map { try filler.targetIds($0).ids },
                        tokens: want.map { $0.map { $0.int("token") } }, scores: want.map { $0.map { $0.double("score") } })
        }
        try #require(fillCases.count >= 5)
        let texts = cls.map(\.text)
        let alone = try embedder.embed(texts, batchSize: 1)

        var checked = 0
        try await withThrowingTaskGroup(of: Int.self) { group in
            for round in 0..<2 {
                group.addTask {
                    let got = try classifier.run(texts.map { SequenceClassifier.Input($0) }, batchSize: 3 + round)
                    for (g, c) in zip(got, cls) {
                        #expect(g.ranked.map(\.label) == c.labels)
                        for (r, w) in zip(g.ranked, c.scores) { #expect(abs(Double(r.score) - w) < tolerance) }
                    }
                    return got.count
                }
                group.addTask {
                    let got = try documents.classify(texts, mode: .truncate)
                    for (g, c) in zip(got, cls) {
                        #expect(g.label == c.labels.first && g.windows == 1)
                        #expect(abs(Double(g.score) - (c.scores.first ?? .nan)) < tolerance)
                    }
                    return got.count
                }
                group.addTask {
                    let got = try embedder.run(texts, batchSize: 2 + round)
                    for (g, a) in zip(got, alone) { #expect(EngineTesting.scaledDiff(g, a) <= 1e-6) }
                    return got.count
                }
                group.addTask {
                    var count = 0
                    for c in nerCases {
                        let got = try ner.entities(in: c.text, aggregation: .simple)
                        #expect(got.map(\.label) == c.labels)
                        for (g, w) in zip(got, c.scores) { #expect(abs(Double(g.score) - w) < tolerance) }
                        count += 1
                    }
                    return count
                }
                group.addTask {
                    let got = try nsp.predict(nspCases.map { ($0.a, $0.b) }, batchSize: 2)
                    for (g, c) in zip(got, nspCases) { #expect(abs(Double(g.isNext) - c.isNext) < tolerance) }
                    return got.count
                }
                group.addTask {
                    for c in qaCases {
                        let got = try reader.answer(question: c.question, context: c.context, options: c.options)
                        #expect(got.map { Span(answer: $0.answer, start: $0.start, end: $0.end) } == c.spans)
                        for (g, w) in zip(got, c.scores) { #expect(abs(g.score - w) < tolerance) }
                    }
                    return qaCases.count
                }
                group.addTask {
                    for c in fillCases {
                        let got = try filler.fill(c.text, topK: c.topK, targets: c.targets)
                        #expect(got.map { $0.map(\.token) } == c.tokens)
                        for (g, w) in zip(got.joined(), c.scores.joined()) { #expect(abs(Double(g.score) - w) < tolerance) }
                    }
                    return fillCases.count
                }
            }
            for try await n in group { checked += n }
        }
        #expect(checked == 2 * (3 * cls.count + nerCases.count + nspCases.count + qaCases.count + fillCases.count))
        // Every borrowed workspace came back; no more were made than callers ran at once.
        let pool = stars.workspaces.statistics
        #expect(pool.borrowed == 0)
        #expect(pool.created >= 1 && pool.created <= 6)
        #expect(pool.idle <= stars.workspaces.maxIdle)
    }
}

/// `WorkspacePool` under contention: many concurrent borrowers never share a workspace, every
/// workspace comes back, and at most `maxIdle` stay idle.
@Suite struct WorkspacePoolContentionTests {
    @Test func concurrentBorrowersNeverShareAWorkspace() async throws {
        let model = try BertModel(directory: Paths.golden("encoder/tiny-gelu-uncased"))
        let pool = WorkspacePool(maxIdle: 3) { maxBatch, maxLength in
            try model.makeWorkspace(maxBatch: maxBatch, maxLength: maxLength)
        }
        final class Holders: @unchecked Sendable {
            // `lock` protects `held` and `peak`.
            let lock = NSLock()
            var held = Set<ObjectIdentifier>()
            var peak = 0
        }
        let holders = Holders()
        let borrowers = 32, rounds = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for b in 0..<borrowers {
                group.addTask {
                    for r in 0..<rounds {
                        try pool.withWorkspace(maxBatch: 1 + (b + r) % 3, maxLength: 4 + (b * r) % 8) { ws in
                            let id = ObjectIdentifier(ws)
                            holders.lock.lock()
                            let fresh = holders.held.insert(id).inserted
                            holders.peak = max(holders.peak, holders.held.count)
                            holders.lock.unlock()
                            #expect(fresh, "a workspace handed to two borrowers at once")
                            #expect(ws.maxBatch >= 1 + (b + r) % 3 && ws.maxLength >= 4 + (b * r) % 8)
                            // Use it, so a shared workspace would also show as wrong outputs.
                            let out = try model.forward(ids: [[2, Int32(5 + b % 20), 3]], workspace: ws)
                            #expect(out.batchSize == 1)
                            holders.lock.lock()
                            holders.held.remove(id)
                            holders.lock.unlock()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = pool.statistics
        #expect(stats.borrowed == 0)
        #expect(stats.idle <= 3)
        #expect(stats.created >= holders.peak && holders.peak >= 1)
    }
}
