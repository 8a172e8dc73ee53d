import Testing

/// Every test that talks to a `vanectl dev-kafka` subprocess lives in a suite nested here, so they
/// all run one after another (the 2-core CI machine and the group timeouts do not like parallel
/// brokers), each with its own broker process and fresh topic and group names.
@Suite(.serialized)
enum KafkaIntegrationTests {}
