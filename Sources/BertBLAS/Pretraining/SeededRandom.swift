/// A seedable random number generator with a fixed algorithm: xoshiro256** seeded by SplitMix64.
///
/// Everything random in `Pretraining/` draws from a `SeededRandom` passed in by the caller; there
/// is no global generator. The same seed gives the same stream on every platform and Swift
/// version, because the generator and every derived draw (`unitDouble`, `int(below:)`,
/// `shuffle`) are written out here instead of relying on the standard library's
/// `Int.random(in:using:)` or `shuffle(using:)`, whose algorithms are not promised to stay fixed.
///
/// References: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2018),
/// xoshiro256** 1.0 and SplitMix64 (https://prng.di.unimi.it/); Lemire, "Fast random integer
/// generation in an interval" (2019) for `int(below:)`.
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose 256-bit state is four successive SplitMix64 outputs from `seed`.
    ///
    /// - Parameter seed: any value; every seed (0 included) gives a valid, distinct stream.
    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        nextRaw()
    }

    @inline(__always)
    internal mutating func nextRaw() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }

    /// A uniform double in [0, 1): the top 53 bits of `next()` times 2⁻⁵³.
    public mutating func unitDouble() -> Double {
        Double(nextRaw() >> 11) * 0x1p-53
    }

    /// True with probability `p`: exactly `unitDouble() < p`, one draw.
    ///
    /// - Parameter p: a probability; `p <= 0` is always false, `p >= 1` always true (one draw
    ///   is still consumed, so the stream position does not depend on `p`).
    public mutating func bernoulli(_ p: Double) -> Bool {
        (nextRaw() >> 11) < Self.threshold53(p)
    }

    /// The integer `t` with `(x >> 11) < t  ⇔  Double(x >> 11) * 2⁻⁵³ < p` for every 64-bit `x`,
    /// so hot loops can compare integers and still agree with `unitDouble() < p` exactly.
    internal static func threshold53(_ p: Double) -> UInt64 {
        if !(p > 0) { return 0 }
        if p >= 1 { return 1 << 53 }
        return UInt64((p * 0x1p53).rounded(.up))
    }

    /// A uniform integer in `0 ..< n`, unbiased (Lemire's multiply-and-reject).
    ///
    /// - Parameter n: the exclusive upper bound; `n <= 1` returns 0 without drawing.
    public mutating func int(below n: Int) -> Int {
        if n <= 1 { return 0 }
        let bound = UInt64(n)
        var product = nextRaw().multipliedFullWidth(by: bound)
        if product.low < bound {
            // 2^64 mod bound, computed as (0 - bound) mod bound.
            let floor = (0 &- bound) % bound
            while product.low < floor {
                product = nextRaw().multipliedFullWidth(by: bound)
            }
        }
        return Int(product.high)
    }

    /// A uniform integer in `range` (both ends included), as Python's `random.randint(a, b)`.
    ///
    /// - Parameter range: a closed range; a single-value range returns it without drawing.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.upperBound - range.lowerBound + 1)
    }

    /// Shuffles `array` in place: Fisher–Yates from the last element down, swapping element `i`
    /// with `int(below: i + 1)`. Arrays of 0 or 1 elements draw nothing.
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }
}
