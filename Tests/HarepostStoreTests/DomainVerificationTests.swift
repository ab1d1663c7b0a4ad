import Foundation
import HarepostContracts
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import HarepostStore

/// A real DNS server (dnsmasq, from Debian's dnsmasq-base) answering TXT records.
final class DNSServer {
    let process = Process()
    let port = Int.random(in: 20000...60000)

    init(txt records: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
        process.arguments =
            [
                "--no-daemon", "--port", "\(port)", "--listen-address", "127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--user=root",
                // Authoritative for the test zone: unknown names are NXDOMAIN, not REFUSED.
                "--local=/example.test/",
            ] + records.map { "--txt-record=\($0.key),\($0.value)" }
        // Not the test's own output: a dnsmasq left behind by a test process
        // that died would hold that pipe open, and `swift test` would wait
        // for it forever instead of reporting the failure.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var resolver: DNSTXTResolver { DNSTXTResolver(host: "127.0.0.1", port: port, timeout: .seconds(1)) }

    /// Waits until the server answers.
    func ready() async throws {
        for _ in 0..<50 {
            if (try? await resolver.txtRecords("probe.example.test")) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    deinit {
        // SIGKILL: dnsmasq may not exit on SIGTERM, and waitUntilExit spins off
        // the main thread; Foundation reaps the child by itself.
        kill(process.processIdentifier, SIGKILL)
    }
}

@Suite("Domain verification against a real DNS server", .timeLimit(.minutes(1)))
struct DomainVerificationTests {
    @Test func resolverReadsTXTRecords() async throws {
        let dns = try DNSServer(txt: ["_harepost-challenge.example.test": "harepost-verify=abc123"])
        try await dns.ready()
        #expect(try await dns.resolver.txtRecords("_harepost-challenge.example.test") == ["harepost-verify=abc123"])
        #expect(try await dns.resolver.txtRecords("nothing.example.test").isEmpty)
        // A resolver that answers REFUSED is trouble, not "no record".
        await #expect(throws: DNSTXTResolver.LookupError.resolverUnavailable("the resolver answered with error 5")) {
            try await dns.resolver.txtRecords("elsewhere.invalid")
        }
        let silent = DNSTXTResolver(host: "127.0.0.1", port: 9, timeout: .milliseconds(300))
        await #expect(throws: DNSTXTResolver.LookupError.self) { try await silent.txtRecords("example.test") }
    }

    @Test func aDomainIsPendingUntilItsRecordExists() async throws {
        // A DNS server without the challenge record.
        let empty = try DNSServer(txt: [:])
        try await empty.ready()
        let dnsPort = empty.port
        try await StoreHarness.withStore(
            .init(
                allowPrivateTargets: true,
                // The server answers at once; the timeout only needs to outlast
                // a busy machine running the other suites in parallel.
                dnsResolver: DNSTXTResolver(host: "127.0.0.1", port: dnsPort, timeout: .seconds(5))
            )
        ) { store in
            let domain = try ProtoMessage("harepost.store.v1.AddDomainRequest", ["domain": .string("example.test")])
            _ = try await store.call("AddDomain", domain)
            let verify = try ProtoMessage("harepost.store.v1.VerifyDomainRequest", ["domain": .string("example.test")])
            let pending = await store.failure("VerifyDomain", verify)
            #expect(pending?.code == .aborted)
            #expect(
                await store.failure("Send", try store.sendRequest(#"{"target": "https://hooks.example.test/x"}"#))?.code
                    == .permissionDenied
            )
            #expect(
                await store.failure(
                    "VerifyDomain",
                    try ProtoMessage("harepost.store.v1.VerifyDomainRequest", ["domain": .string("other.test")])
                )?.code == .notFound
            )
        }
    }

    @Test func verificationSucceedsOnceTheRecordIsPublished() async throws {
        // The token is known only after AddDomain, so the record is published
        // afterwards and a second service on the same database verifies.
        try await withTemporaryDirectory("hp-dns") { directory in
            let service = try StoreService(
                sqlitePath: "\(directory)/store.sqlite",
                configuration: .init(allowPrivateTargets: true)
            )
            let context = RPCContext(
                method: "",
                metadata: [RPCMetadataKey.accountID: "acct_a", RPCMetadataKey.environment: "live"],
                deadline: nil,
                logger: .init(label: "t")
            )
            var add = StoreV1.AddDomainRequest()
            add.domain = "example.test"
            let added = try await service.addDomain(add, context)
            let value = try #require(added.record?.value)

            let dns = try DNSServer(txt: ["_harepost-challenge.example.test": value])
            try await dns.ready()
            let verifying = try StoreService(
                sqlitePath: "\(directory)/store.sqlite",
                configuration: .init(allowPrivateTargets: true, dnsResolver: dns.resolver)
            )
            var verify = StoreV1.VerifyDomainRequest()
            verify.domain = "example.test"
            let verified = ProtoJSON.encode(try await verifying.verifyDomain(verify, context).protoMessage)
            #expect(verified["status"] == .string("verified"))
            guard case .string = verified["verified_at"] else { Issue.record("no verified_at"); return }
            // Verifying again is still 200 with the same time.
            #expect(ProtoJSON.encode(try await verifying.verifyDomain(verify, context).protoMessage) == verified)
            // The verified domain covers itself and its subdomains, and nothing else.
            let loop = MultiThreadedEventLoopGroup.singleton.any()
            let send = { @Sendable (target: String) in
                var request = StoreV1.SendRequest()
                request.target = target
                let answer = RPCPromise<StoreV1.SendResponse>(on: loop)
                verifying.send(request, context, answer)
                return answer
            }
            _ = try await send("https://example.test/hook").get()
            _ = try await send("https://a.b.example.test/hook").get()
            await #expect(throws: RPCError.self) {
                try await send("https://notexample.test/hook").get()
            }
        }
    }
}

@Suite("DNS resolver addresses")
struct DNSResolverAddressTests {
    @Test(arguments: [
        ("10.0.0.2", "10.0.0.2", 53), ("127.0.0.1:5354", "127.0.0.1", 5354), ("dns.internal", "dns.internal", 53),
        ("[::1]", "::1", 53), ("[fd00::53]:5300", "fd00::53", 5300), ("fd00::53", "fd00::53", 53),
    ])
    func parses(address: String, host: String, port: Int) throws {
        let resolver = try #require(DNSTXTResolver(address: address))
        #expect(resolver.host == host)
        #expect(resolver.port == port)
    }

    @Test(arguments: ["", ":53", "1.2.3.4:", "1.2.3.4:dns", "1.2.3.4:70000", "[::1", "[::1]53", "[]:53"])
    func rejects(address: String) {
        #expect(DNSTXTResolver(address: address) == nil)
    }
}
