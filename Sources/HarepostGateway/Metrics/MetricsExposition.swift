/// Merges the Prometheus text expositions of several components into one, so a
/// single scrape of the gateway's `/metrics` covers every process.
///
/// Each sample gets a `component` label; families that several components
/// share (`harepost_rpc_server_duration_seconds`, say) are written once, with
/// the first `# HELP`/`# TYPE` seen and every component's samples. A
/// `harepost_component_up` gauge says which components answered.
enum MetricsExposition {
    struct Source: Sendable {
        var component: String
        /// The component's exposition, nil when it did not answer.
        var text: String?
    }

    static func merge(_ sources: [Source]) -> String {
        var order: [String] = []
        var families: [String: (help: Substring?, type: Substring?, samples: [String])] = [:]
        func family(_ name: String) {
            if families[name] == nil {
                families[name] = (nil, nil, [])
                order.append(name)
            }
        }
        family("harepost_component_up")
        families["harepost_component_up"]?.help =
            "# HELP harepost_component_up Whether the component answered the scrape."
        families["harepost_component_up"]?.type = "# TYPE harepost_component_up gauge"
        for source in sources {
            families["harepost_component_up"]?.samples.append(
                "harepost_component_up{component=\"\(source.component)\"} \(source.text == nil ? 0 : 1)"
            )
            guard let text = source.text else { continue }
            var current: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                    let words = line.split(separator: " ", maxSplits: 3)
                    guard words.count >= 3 else { continue }
                    let name = String(words[2])
                    family(name)
                    current = name
                    if words[1] == "HELP", families[name]?.help == nil { families[name]?.help = line }
                    if words[1] == "TYPE", families[name]?.type == nil { families[name]?.type = line }
                } else if !line.hasPrefix("#") {
                    let sampleName = metricName(of: line)
                    // A histogram's `_bucket`/`_sum`/`_count` belong to the family above.
                    let name =
                        current.flatMap { sampleName == $0 || sampleName.hasPrefix($0 + "_") ? $0 : nil } ?? sampleName
                    family(name)
                    families[name]?.samples.append(labelled(line, component: source.component))
                }
            }
        }
        var output = ""
        for name in order {
            guard let entry = families[name] else { continue }
            if let help = entry.help { output += help + "\n" }
            if let type = entry.type { output += type + "\n" }
            for sample in entry.samples { output += sample + "\n" }
        }
        return output
    }

    /// The metric name a sample line starts with.
    static func metricName(of line: Substring) -> String {
        String(line.prefix { $0 != "{" && $0 != " " })
    }

    /// `line` with `component="…"` as its first label.
    static func labelled(_ line: Substring, component: String) -> String {
        let name = line.prefix { $0 != "{" && $0 != " " }
        let rest = line.dropFirst(name.count)
        let label = "component=\"\(component)\""
        if rest.hasPrefix("{}") { return "\(name){\(label)}\(rest.dropFirst(2))" }
        if rest.hasPrefix("{") { return "\(name){\(label),\(rest.dropFirst())" }
        return "\(name){\(label)}\(rest)"
    }
}
