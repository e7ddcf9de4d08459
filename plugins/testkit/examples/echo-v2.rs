//! The same connector as `echo`, version 2.0.0: every answer names its version, for hot-swap tests.
struct EchoV2;
impl testkit::Fake for EchoV2 {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "2.0.0";
}
testkit::export!(EchoV2);
