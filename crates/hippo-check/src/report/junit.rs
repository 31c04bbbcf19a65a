//! JUnit XML: one test case per rule, failing with its unsuppressed findings.

use super::esc;
use crate::engine::Outcome;
use crate::rules::registry;

pub fn render(o: &Outcome) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    let mut skipped = 0;
    for r in registry() {
        let open: Vec<_> = o
            .findings
            .iter()
            .filter(|f| f.rule_id == r.id && f.suppressed.is_none())
            .collect();
        let evaluated = o.stats.get(r.id).map(|s| s.evaluated).unwrap_or(0);
        let class = format!("hipaa.{}", r.hipaa.first().copied().unwrap_or("general"));
        cases.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\">\n",
            esc(&class),
            esc(&format!("{}: {}", r.id, r.title))
        ));
        if !open.is_empty() {
            failures += 1;
            let body: Vec<String> = open
                .iter()
                .map(|f| format!("{}:{} {}", f.file, f.line, f.message))
                .collect();
            cases.push_str(&format!(
                "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                f_sev(open[0].severity.label()),
                esc(&format!("{} finding(s)", open.len())),
                esc(&body.join("\n"))
            ));
        } else if evaluated == 0 {
            skipped += 1;
            cases.push_str("      <skipped message=\"no applicable resources\"/>\n");
        }
        cases.push_str("    </testcase>\n");
    }
    let n = registry().len();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hippo check\" tests=\"{n}\" failures=\"{failures}\" errors=\"{}\">\n  <testsuite name=\"hippo-check-hipaa\" tests=\"{n}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{skipped}\">\n{cases}  </testsuite>\n</testsuites>\n",
        o.errors.len(),
        o.errors.len()
    )
}

fn f_sev(s: &str) -> String {
    format!("severity-{s}")
}
