/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014):
/// a tiny, portable, seedable generator.
///
/// Used where a fixed 64-bit stream is all that is needed (the data split of `LabeledDataset`,
/// benchmark inputs) and to seed `SeededRandom`'s xoshiro256** state. The same seed gives the
/// same stream on every platform and Swift version.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's whole state; it advances by the golden-ratio increment per draw.
    public var state: UInt64

    /// Creates a generator at `seed` (every seed, 0 included, is valid).
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
