import Testing

@testable import HarepostGateway

@Suite("Metrics exposition")
struct MetricsExpositionTests {
    @Test func familiesSharedByComponentsAreWrittenOnceWithAComponentLabel() {
        let store = """
            # TYPE harepost_rpc_server_duration_seconds histogram
            harepost_rpc_server_duration_seconds_bucket{method="A",le="0.001"} 1
            harepost_rpc_server_duration_seconds_count{method="A"} 1
            # TYPE harepost_queue_pending gauge
            harepost_queue_pending 3.0

            """
        let auth = """
            # HELP harepost_rpc_server_duration_seconds Calls answered.
            # TYPE harepost_rpc_server_duration_seconds histogram
            harepost_rpc_server_duration_seconds_count{method="B"} 2
            untyped_thing{} 7
            """
        let merged = MetricsExposition.merge([
            .init(component: "store", text: store),
            .init(component: "auth", text: auth),
            .init(component: "dispatcher", text: nil),
        ])
        #expect(
            merged == """
                # HELP harepost_component_up Whether the component answered the scrape.
                # TYPE harepost_component_up gauge
                harepost_component_up{component="store"} 1
                harepost_component_up{component="auth"} 1
                harepost_component_up{component="dispatcher"} 0
                # HELP harepost_rpc_server_duration_seconds Calls answered.
                # TYPE harepost_rpc_server_duration_seconds histogram
                harepost_rpc_server_duration_seconds_bucket{component="store",method="A",le="0.001"} 1
                harepost_rpc_server_duration_seconds_count{component="store",method="A"} 1
                harepost_rpc_server_duration_seconds_count{component="auth",method="B"} 2
                # TYPE harepost_queue_pending gauge
                harepost_queue_pending{component="store"} 3.0
                untyped_thing{component="auth"} 7

                """
        )
    }
}
