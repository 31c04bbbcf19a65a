//! A synthetic clinical corpus for tests and benchmarks: patients, notes and observations with
//! realistic names (accents included), dates and clinical vocabulary, the same for the same
//! seed on every machine and version.
//!
//! The generator is splitmix64 written out here rather than `rand`: its output must never
//! change with a dependency upgrade, or benchmark corpora would silently differ between runs.

use serde_json::{json, Value};

const GIVEN: &[&str] = &[
    "Ana", "José", "María", "Zoë", "Liam", "Olivia", "Noah", "Emma", "Chloé", "Lucas", "Mia",
    "Ethan", "Amélie", "Mateo", "Sofía", "Jürgen", "Aisha", "Omar", "Priya", "Wei", "Hana", "Kofi",
    "Nadia", "Björn", "Ingrid", "Siobhán", "Rory", "Fatima", "Yusuf", "Léa",
];
const FAMILY: &[&str] = &[
    "García",
    "Martínez",
    "Smith",
    "Johnson",
    "Müller",
    "Schmidt",
    "Nguyen",
    "Kim",
    "Patel",
    "O'Brien",
    "Rossi",
    "Novak",
    "Kowalski",
    "Dubois",
    "Jensen",
    "Silva",
    "Haddad",
    "Okafor",
    "Yamamoto",
    "Andersson",
    "Fernández",
    "López",
    "Brown",
    "Wilson",
    "Martin",
    "Lefèvre",
];
const COMPLAINTS: &[&str] = &[
    "chest pain",
    "shortness of breath",
    "abdominal pain",
    "headache",
    "fever and cough",
    "dizziness",
    "back pain",
    "palpitations",
    "nausea and vomiting",
    "fatigue",
];
const CONDITIONS: &[&str] = &[
    "type 2 diabetes",
    "hypertension",
    "asthma",
    "atrial fibrillation",
    "COPD",
    "chronic kidney disease",
    "hypothyroidism",
    "depression",
    "osteoarthritis",
    "migraine",
];
const PLANS: &[&str] = &[
    "started metformin",
    "continue insulin",
    "ECG ordered",
    "chest X-ray ordered",
    "referred to cardiology",
    "follow-up in two weeks",
    "blood tests ordered",
    "increase lisinopril",
    "physiotherapy referral",
    "advised rest and fluids",
];
const OBSERVATIONS: &[(&str, &str, &str)] = &[
    ("8867-4", "heart rate", "/min"),
    ("8480-6", "systolic blood pressure", "mm[Hg]"),
    ("2339-0", "glucose", "mg/dL"),
    ("29463-7", "body weight", "kg"),
    ("8310-5", "body temperature", "Cel"),
];

/// splitmix64: a fixed, well-distributed sequence from any seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Record `i` of the corpus for `seed`: one in five a patient, two in five a note, the rest
/// observations; subjects are shared so notes and observations belong to patients.
pub fn record(seed: u64, i: u64) -> Value {
    let mut r = Rng(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
    let patient = i / 5;
    let subject = format!("pt-{patient:07}");
    let mut pr = Rng(seed ^ patient.wrapping_mul(0x9FB2_1C65_1E98_DF25));
    let (given, family) = (pr.pick(GIVEN), pr.pick(FAMILY));
    let day = 1 + r.next() % 28;
    let month = 1 + r.next() % 12;
    match i % 5 {
        0 => json!({"type": "Patient", "subject": subject, "labels": ["demographics"],
            "body": {"name": {"given": given, "family": family},
                     "birth_date": format!("19{:02}-{month:02}-{day:02}", 30 + pr.next() % 70),
                     "condition": pr.pick(CONDITIONS)}}),
        1 | 2 => json!({"type": "ClinicalNote", "subject": subject, "labels": ["note"],
            "body": {"text": format!("{given} {family} presents with {}. History of {}. Plan: {}.",
                                     r.pick(COMPLAINTS), r.pick(CONDITIONS), r.pick(PLANS)),
                     "date": format!("2026-{month:02}-{day:02}")}}),
        _ => {
            let (code, name, unit) = r.pick(OBSERVATIONS);
            json!({"type": "Observation", "subject": subject, "labels": ["vitals"],
                "body": {"code": code, "display": name, "value": 40 + r.next() % 120, "unit": unit,
                         "date": format!("2026-{month:02}-{day:02}")}})
        }
    }
}

/// The fixed query mix of the search benchmark: a name, a prefix, a phrase, a boolean and an
/// accent-folded name, in rotation.
pub const QUERY_MIX: &[&str] = &[
    "garcia",
    "mart*",
    "\"chest pain\"",
    "diabetes NOT insulin",
    "muller OR lefevre",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_deterministic_and_varied() {
        assert_eq!(record(7, 123), record(7, 123));
        assert_ne!(record(7, 123), record(8, 123));
        let types: Vec<String> = (0..5)
            .map(|i| record(1, i)["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "Patient",
                "ClinicalNote",
                "ClinicalNote",
                "Observation",
                "Observation"
            ]
        );
        for i in 0..200 {
            let v = record(3, i);
            hippo_core::validate::record_input(v).expect("every generated record is valid");
        }
    }
}
