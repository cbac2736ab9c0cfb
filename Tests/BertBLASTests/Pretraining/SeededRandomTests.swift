import Foundation
import Testing
@testable import BertBLAS

/// SeededRandom against an independent Python implementation (scripts/make_pretrain_rng_golden.py).
@Suite struct SeededRandomTests {
    struct Case: Decodable {
        var seed: String
        var raw: [String]
        var doubles: [Double]
        var bounds: [String]
        var ints: [String]
        var shuffled: [Int]
        var after: String
    }
    struct Golden: Decodable { var cases: [Case] }

    @Test func matchesPythonReference() throws {
        let data = try Data(contentsOf: Paths.golden("pretrain/rng.json"))
        let golden = try JSONDecoder().decode(Golden.self, from: data)
        #expect(golden.cases.count == 4)
        for c in golden.cases {
            var rng = SeededRandom(seed: try #require(UInt64(c.seed)))
            #expect(c.raw.compactMap(UInt64.init) == (0 ..< c.raw.count).map { _ in rng.next() }, "seed \(c.seed)")
            #expect(c.doubles == (0 ..< c.doubles.count).map { _ in rng.unitDouble() }, "seed \(c.seed)")
            let bounds = c.bounds.compactMap(Int.init)
            #expect(c.ints.compactMap(Int.init) == bounds.map { rng.int(below: $0) }, "seed \(c.seed)")
            var items = Array(0 ..< 20)
            rng.shuffle(&items)
            #expect(items == c.shuffled, "seed \(c.seed)")
            #expect(rng.next() == UInt64(c.after), "seed \(c.seed)")
        }
    }

    @Test func bernoulliAgreesWithUnitDouble() {
        for p in [0.0, 1e-9, 0.1, 0.15, 0.5, 0.8, 0.9, 1.0 - 1e-16, 1.0] {
            var a = SeededRandom(seed: 7), b = SeededRandom(seed: 7)
            for _ in 0 ..< 2000 {
                #expect(a.bernoulli(p) == (b.unitDouble() < p))
            }
        }
    }

    @Test func intInClosedRangeCoversBothEnds() {
        var rng = SeededRandom(seed: 3)
        var seen = Set<Int>()
        for _ in 0 ..< 500 { seen.insert(rng.int(in: 2 ... 6)) }
        #expect(seen == Set(2 ... 6))
        #expect(rng.int(in: 5 ... 5) == 5)
    }
}
