import Foundation
import Testing

/// `bert help <command>` explains every option with its default (or says it is required), and
/// value placeholders are short names, not the option repeated.
@Suite struct CLIHelpTests {
    static let commands = ["tokenize", "embed", "ner", "qa", "fill-mask", "nsp", "mask", "pretrain-data",
                           "mlm-score", "train-head", "finetune", "pretrain", "eval", "classify"]

    /// The OPTIONS entries of a help text: each entry's lines joined.
    static func optionEntries(_ help: String) -> [String] {
        var entries: [String] = []
        var inOptions = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
            guard inOptions else { continue }
            if line.hasPrefix("  -") {
                entries.append(String(line))
            } else if line.hasPrefix("   "), !entries.isEmpty {
                entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            } else if !line.isEmpty, !line.hasPrefix(" ") {
                inOptions = false
            }
        }
        return entries
    }

    @Test(arguments: commands)
    func everyOptionStatesItsDefault(_ command: String) throws {
        let r = try CLI.run("bert", ["help", command])
        #expect(r.status == 0)
        let entries = Self.optionEntries(r.stdout)
        #expect(entries.count >= 2)
        for entry in entries where !entry.contains("--help") {
            let lower = entry.lowercased()
            #expect(lower.contains("default") || lower.contains("required"), "\(command): \(entry)")
            // e.g. "--batch-size <batch-size>" (ArgumentParser's fallback) says nothing.
            if let name = entry.split(separator: " ").first(where: { $0.hasPrefix("--") })?.dropFirst(2) {
                #expect(!entry.contains("--\(name) <\(name)>"), "\(command): \(entry)")
            }
        }
    }
}
