import ArgumentParser
import BertBLAS
import Foundation

/// The shared loop of the task-head commands (ner, qa, fill-mask, nsp): one JSON value per input
/// line, an `{"error": ...}` record in place of a line that fails, and a non-zero exit at the end.
enum HeadCommand {
    /// Loads the task model, then answers every input line with `body`'s JSON value.
    ///
    /// When loading fails (e.g. a checkpoint of the wrong kind), the error is reported once and
    /// every input line gets an error record carrying it, so the output stays line-aligned.
    static func run<Model>(files: InputFiles, load: () throws -> Model,
                           _ body: (Model, TextLine, Report) throws -> any Encodable) throws {
        let report = Report()
        let loaded = Result { try load() }
        if case .failure(let error) = loaded {
            FileHandle.standardError.write(Data("error: \(message(error))\n".utf8))
        }
        files.forEachLine(report) { line in
            switch loaded {
            case .failure(let error):
                report.countFailure()
                JSONLines.write(JSONLines.error(message(error), line: line))
            case .success(let model):
                do {
                    JSONLines.write(try body(model, line, report))
                } catch {
                    report.fail("\(line.source):\(line.number): \(message(error))")
                    JSONLines.write(JSONLines.error(message(error), line: line))
                }
            }
        }
        try report.finish()
    }

    static func message(_ error: Error) -> String {
        (error as? BertError)?.message ?? "\(error)"
    }
}
