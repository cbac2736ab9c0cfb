import ArgumentParser
import BertBLAS
import BertServer
import Foundation
import Logging

/// `bert serve`: the TEI- and OpenAI-compatible HTTP server (BertServer) for one model folder.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over HTTP with text-embeddings-inference's API (and OpenAI's /v1/embeddings).",
        discussion: """
            Routes: /embed, /embed_all, /embed_sparse, /predict, /rerank, /similarity, /v1/embeddings, \
            /ner, /qa, /fill-mask (those the model's heads allow), /tokenize, /decode, /info, /health, \
            /metrics (Prometheus), /openapi.json. Errors are {"error", "error_type"} with TEI's statuses. \
            Defaults are TEI's, except the address (127.0.0.1:8080). SIGTERM or SIGINT stops accepting \
            connections, finishes the requests in flight and exits 0. See docs/SERVER.md.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: ArgumentHelp("Address to listen on; 0.0.0.0 for every interface. Default: 127.0.0.1.", valueName: "address"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("TCP port; 0 picks a free one (printed on stderr). Default: 8080.", valueName: "n"))
    var port = 8080

    @Option(help: ArgumentHelp("Real tokens per forward pass. Default: 16384.", valueName: "n"))
    var maxBatchTokens = 16_384

    @Option(help: ArgumentHelp("Sequences per forward pass; 1 turns dynamic batching off. Default: 64.", valueName: "n"))
    var maxBatchRequests = 64

    @Option(help: ArgumentHelp("Requests in flight at once; beyond, 429. Default: 512.", valueName: "n"))
    var maxConcurrentRequests = 512

    @Option(help: ArgumentHelp("Inputs per request; beyond, 413. Default: 32.", valueName: "n"))
    var maxClientBatchSize = 32

    @Option(help: ArgumentHelp("Request body bytes; beyond, 413. Default: 2000000.", valueName: "bytes"))
    var payloadLimit = 2_000_000

    @Option(help: ArgumentHelp("Require 'Authorization: Bearer KEY' on every route but /health, /ping, /metrics and /openapi.json. Default: none.", valueName: "key"))
    var apiKey: String?

    @Flag(help: "Truncate inputs longer than the model takes instead of answering 422. Default: off.")
    var autoTruncate = false

    @Option(help: ArgumentHelp("Model name in /info and /v1/embeddings. Default: the folder's name.", valueName: "name"))
    var servedModelName: String?

    @OptionGroup var kernel: KernelOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        for (name, value) in [("--max-batch-tokens", maxBatchTokens), ("--max-batch-requests", maxBatchRequests),
                              ("--max-concurrent-requests", maxConcurrentRequests),
                              ("--max-client-batch-size", maxClientBatchSize), ("--payload-limit", payloadLimit)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() throws {
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.maxBatchTokens = maxBatchTokens
        options.maxBatchRequests = maxBatchRequests
        options.maxConcurrentRequests = maxConcurrentRequests
        options.maxClientBatchSize = maxClientBatchSize
        options.payloadLimit = payloadLimit
        options.apiKey = apiKey
        options.autoTruncate = autoTruncate
        options.servedModelName = servedModelName

        var logger = Logger(label: "bert.serve")
        logger.logLevel = .info
        let service: BertService
        do {
            // A model folder, or a head folder from `bert train-head` (served on /predict).
            service = try BertService(directory: model.url, kernel: kernel.kernel, options: options, logger: logger)
        } catch {
            try Report().abort(HeadCommand.message(error))
        }
        let host = self.host
        nonisolated(unsafe) var failure: (any Error)?
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await BertHTTPServer.run(service, logger: logger) { port in
                    // The one line scripts wait for: the bound port (useful with --port 0).
                    FileHandle.standardError.write(Data("listening on http://\(host):\(port)\n".utf8))
                }
            } catch {
                failure = error
            }
            done.signal()
        }
        done.wait()
        if let failure { try Report().abort("\(failure)") }
    }
}
