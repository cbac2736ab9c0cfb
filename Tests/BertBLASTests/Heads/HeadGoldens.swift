import Foundation
import Testing

/// Reads the heads goldens written by scripts/goldens_heads.py (Tests/Goldens/heads/).
enum HeadGoldens {
    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Paths.golden("heads/\(name)"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw GoldenError("heads/\(name): not a JSON object")
        }
        return object
    }

    static func model(_ name: String) -> URL { Paths.golden("heads/models/\(name)") }

    struct GoldenError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String { self[key] as? String ?? "" }
    func int(_ key: String) -> Int { (self[key] as? NSNumber)?.intValue ?? Int.min }
    func double(_ key: String) -> Double { (self[key] as? NSNumber)?.doubleValue ?? .nan }
    func ints(_ key: String) -> [Int] { (self[key] as? [NSNumber])?.map(\.intValue) ?? [] }
    func floats(_ key: String) -> [Float] { (self[key] as? [NSNumber])?.map(\.floatValue) ?? [] }
    func optionalInts(_ key: String) -> [Int?] { (self[key] as? [Any])?.map { ($0 as? NSNumber)?.intValue } ?? [] }
    func objects(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func object(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    func spans(_ key: String) -> [(start: Int, end: Int)] {
        (self[key] as? [[NSNumber]])?.map { (start: $0[0].intValue, end: $0[1].intValue) } ?? []
    }
}
