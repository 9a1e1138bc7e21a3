//! Tests that need something a machine may lack (a GPU, a browser) run on libtest-mimic rather
//! than the built-in harness, so that a missing prerequisite is reported as what it is: the test
//! is *ignored, with the reason*, never counted as passed. With the prerequisite's `REQUIRE_*`
//! variable set to 1 (CI, the GPU check script) a missing prerequisite fails the test instead.

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// What a set of tests needs: the variable that makes it mandatory, and a check that says what
/// is missing (`Err`), if anything.
pub struct Needs {
    pub require_var: &'static str,
    pub check: fn() -> Result<(), String>,
}

/// Runs `tests` (name, body) as the test binary's `main`: each body runs only where `needs`
/// holds; a panic in it fails the test.
#[allow(dead_code)] // Each test binary uses one of the two.
pub fn main(needs: Needs, tests: Vec<(&'static str, fn())>) -> ! {
    let needs: &'static Needs = Box::leak(Box::new(needs));
    main_each(
        tests
            .into_iter()
            .map(|(name, test)| (name, Some(needs), test))
            .collect(),
    )
}

/// A test: its name, what it needs (`None`: nothing, it always runs) and its body.
pub type Test = (&'static str, Option<&'static Needs>, fn());

/// [`main`] with each test's own needs.
pub fn main_each(tests: Vec<Test>) -> ! {
    let args = Arguments::from_args();
    let trials = tests
        .into_iter()
        .map(|(name, needs, test)| {
            Trial::ignorable_test(name, move || {
                if let Some(needs) = needs
                    && let Err(missing) = (needs.check)()
                {
                    if std::env::var(needs.require_var).as_deref() == Ok("1") {
                        return Err(Failed::from(format!(
                            "{}=1 but {missing}",
                            needs.require_var
                        )));
                    }
                    return Ok(Completion::ignored_with(missing));
                }
                test();
                Ok(Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
