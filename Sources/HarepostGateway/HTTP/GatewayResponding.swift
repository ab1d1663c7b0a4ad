/// What the HTTP layer hands a complete request to. The gateway's is
/// ``GatewayResponder`` (health, readiness, metrics and the route map);
/// tests drive the HTTP handler with their own.
protocol GatewayResponding: Sendable {
    /// Answers `request`, suspending as it needs.
    func respond(to request: GatewayRequest) async -> GatewayResponse

    /// Answers `request` without a task when it can, calling `completion`
    /// (possibly before returning); false, and `completion` is not called,
    /// when it needs ``respond(to:)``.
    func respondWithoutTask(
        to request: GatewayRequest,
        completion: @escaping @Sendable (GatewayResponse) -> Void
    ) -> Bool
}
