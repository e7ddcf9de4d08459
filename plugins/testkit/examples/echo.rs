//! A well-behaved fake connector, version 1.0.0.
struct Echo;
impl testkit::Fake for Echo {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "1.0.0";
}
testkit::export!(Echo);
