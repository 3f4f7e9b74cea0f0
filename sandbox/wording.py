"""The word pools of the sandbox's documents: synthetic names and places, drugs, lab tests,
diagnoses and notices, and the ``Writer`` that draws from them. Names are common given names
and surnames combined at random; phone numbers are in the fictional 555-01xx range."""

from __future__ import annotations

import random
from datetime import date, timedelta

from shared.npi import luhn_digit

FONTS = ("open_sans", "caladea", "source_serif", "aileron")
GIVEN = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "Maria",
    "Jose",
    "Wei",
    "Mei",
    "Ahmed",
    "Fatima",
    "Priya",
    "Ravi",
    "Olga",
    "Ivan",
    "Grace",
    "Samuel",
]
SURNAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
    "Patel",
    "Kim",
    "Novak",
    "Okafor",
    "Haddad",
    "Lindqvist",
]
PLACES = """Maple Ridge|Harbor View|Cedar Valley|Riverside|Lakeshore|Pine Hill|Oak Park|Summit|
Westbrook|Fairview|Brookside|Stonegate|Willow Creek|Northgate""".replace("\n", "").split("|")
PRACTICES = """Family Medicine|Internal Medicine|Cardiology|Orthopedics|Pediatrics|Dermatology|
Gastroenterology|Neurology|Endocrinology|Women's Health|Primary Care|Pulmonology""".replace(
    "\n", ""
).split("|")
STREETS = "Main Street|Oak Avenue|Elm Road|Park Boulevard|Hillcrest Drive|Mill Lane|Church Street"
CITIES = "Springfield|Franklin|Greenville|Clinton|Madison|Georgetown|Salem|Ashland|Dover|Milton"
PLANS = "Bluewater Health Plan|Crestline Insurance|Unity Care Plus|Evergreen Mutual|Keystone Health"
DRUGS = [
    ("Lisinopril", "10 mg", "Take 1 tablet by mouth daily"),
    ("Metformin", "500 mg", "Take 1 tablet twice daily with meals"),
    ("Atorvastatin", "20 mg", "Take 1 tablet at bedtime"),
    ("Levothyroxine", "50 mcg", "Take 1 tablet every morning"),
    ("Amlodipine", "5 mg", "Take 1 tablet daily"),
    ("Sertraline", "50 mg", "Take 1 tablet daily"),
    ("Omeprazole", "20 mg", "Take 1 capsule before breakfast"),
    ("Albuterol HFA", "90 mcg", "Inhale 2 puffs every 6 hours as needed"),
]
LABS = [
    ("Glucose", "mg/dL", 70, 99),
    ("Sodium", "mmol/L", 136, 145),
    ("Potassium", "mmol/L", 3.5, 5.1),
    ("Creatinine", "mg/dL", 0.6, 1.3),
    ("Hemoglobin", "g/dL", 12.0, 17.5),
    ("WBC", "K/uL", 4.0, 11.0),
    ("Platelets", "K/uL", 150, 400),
    ("Hemoglobin A1c", "%", 4.0, 5.6),
    ("TSH", "mIU/L", 0.4, 4.0),
    ("LDL Cholesterol", "mg/dL", 0, 99),
    ("ALT", "U/L", 7, 56),
    ("Calcium", "mg/dL", 8.5, 10.2),
]
DIAGNOSES = [
    ("I10", "essential hypertension"),
    ("E11.9", "type 2 diabetes mellitus without complications"),
    ("M54.5", "low back pain"),
    ("R07.9", "chest pain, unspecified"),
    ("J45.909", "asthma, uncomplicated"),
    ("K21.9", "gastro-esophageal reflux disease"),
    ("M17.11", "primary osteoarthritis, right knee"),
    ("R51.9", "headache, unspecified"),
]
CONFIDENTIAL = [
    "This facsimile contains confidential health information protected by federal and state "
    "law. If you received it in error, notify the sender at once and destroy all copies.",
    "CONFIDENTIALITY NOTICE: The documents accompanying this fax are intended only for the "
    "named recipient. Any review, disclosure or distribution by others is prohibited.",
    "The information in this transmission is privileged and confidential. If you are not the "
    "intended recipient, please call us and shred the pages you received.",
]

REFERRAL_OPENING = [
    "I am referring {name}, whom I saw on {seen}, for evaluation of {dx} ({code}).",
    "Thank you for seeing my patient {name} for {dx}. I examined the patient on {seen}.",
    "Please evaluate {name} for {dx}, diagnosis code {code}, first seen in our office on {seen}.",
]
REFERRAL_REASON = [
    "Symptoms have persisted despite conservative treatment over several weeks.",
    "The patient reports worsening symptoms and has not improved with the current medication.",
    "Recent findings are enclosed. The patient would benefit from a specialist opinion and "
    "further testing.",
]
REFERRAL_CLOSE = [
    "Please contact our office with any questions. Thank you for your help.",
    "I would appreciate a copy of your consultation note. Sincerely,",
    "Kind regards, and thank you for seeing this patient promptly.",
]
HISTORY = [
    "The patient denies fever, chills or weight loss.",
    "Blood pressure was 132/84 and heart rate 76 at the last visit.",
    "Current medications were reviewed and reconciled today.",
    "There is no known drug allergy.",
    "Family history is notable for heart disease in a parent.",
    "The patient does not smoke and drinks alcohol rarely.",
    "Physical examination was otherwise unremarkable.",
    "Follow-up was advised in four to six weeks.",
    "Imaging from the previous year showed no acute change.",
    "The plan was discussed and the patient agreed.",
]
FINDINGS = [
    "The lungs are clear without focal consolidation.",
    "There is no pleural effusion or pneumothorax.",
    "Heart size is within normal limits.",
    "Alignment is preserved.",
    "Mild narrowing of the disc space is noted at one level.",
    "No mass or fluid collection is identified.",
    "Comparison is made with a prior study.",
]
IMPRESSIONS = ["No acute abnormality.", "Mild degenerative change.", "Findings are stable."]
JUSTIFICATION = [
    "The patient has tried and failed two formulary alternatives.",
    "Step therapy was completed without adequate response.",
    "The formulary alternative caused side effects and was stopped.",
]
RECORDS_ASK = [
    "Please send copies of office notes, laboratory results and imaging reports for the dates "
    "listed above.",
    "We request the complete medical record, including medication lists and consultation notes, "
    "for continuity of care.",
    "Kindly forward all records for the period above. A signed authorization is attached.",
]
REFERRAL_TITLES = [
    "REFERRAL FORM",
    "Patient Referral",
    "Specialty Referral Request",
    "Consultation Request",
    "Outpatient Referral",
]
SPECIALTIES = "Cardiology|Orthopedics|Neurology|Gastroenterology|Physical therapy|Dermatology"
LAB_TITLES = [
    "LABORATORY REPORT",
    "Lab Results",
    "Final Report",
    "CLINICAL LAB RESULTS",
    "Chemistry Panel",
    "Test Results - Final",
]
IMAGING_TITLES = [
    "RADIOLOGY REPORT",
    "Imaging Report",
    "DIAGNOSTIC IMAGING",
    "Radiology Consultation",
    "Report of Examination",
]
IMAGING_EXAMS = [
    "Chest X-ray, 2 views",
    "MRI lumbar spine",
    "CT abdomen",
    "Ultrasound, right",
    "Mammogram, screening",
    "CT head without contrast",
]
PRIOR_AUTH_TITLES = [
    "PRIOR AUTHORIZATION REQUEST",
    "Prior Authorization Form",
    "Pre-certification Request",
    "Request for Prior Approval",
    "Letter of Medical Necessity",
]
REFILL_TITLES = [
    "REFILL REQUEST",
    "Prescription Refill Authorization",
    "Rx Renewal",
    "Medication Renewal Request",
    "Refill Authorization Request",
]
REFILL_ASK = [
    "Please approve or deny and fax back.",
    "Fax your reply to the pharmacy.",
    "Patient is out of medication. Please authorize refills.",
    "Check approve or deny, sign and return.",
]
RECORDS_TITLES = [
    "Request for Medical Records",
    "RECORDS REQUEST",
    "Release of Information",
    "Authorization to Release Health Information",
    "Medical Records Request",
]
JUNK_OFFERS = [
    "LOWER YOUR PRACTICE COSTS TODAY",
    "Exclusive Savings on Medical Supplies",
    "Business Loans for Physicians",
    "Limited Time Offer for Medical Offices",
    "FREE TONER WITH EVERY ORDER",
    "Vacation Giveaway: You Have Been Selected",
]
JUNK_PITCHES = [
    "Save up to 40 percent on office supplies, gloves and paper this month only.",
    "Our billing service has helped hundreds of clinics collect faster. Call now for a free "
    "review.",
    "Reply today to claim your free trial of our scheduling software.",
    "Pre-approved funding up to 250,000 dollars. No credit check. Act now.",
    "You have won a cruise for two. Call to confirm your prize.",
]


class Writer:
    """Synthetic people, places and numbers, and the wording of each document type."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.date_style = rng.choice(["%m/%d/%Y", "%Y-%m-%d", "%b %d, %Y", "%d-%b-%Y"])

    def pick(self, options: str | list[str]) -> str:
        return self.rng.choice(options.split("|") if isinstance(options, str) else options)

    def person(self) -> str:
        return f"{self.pick(GIVEN)} {self.pick(SURNAMES)}"

    def doctor(self) -> str:
        return f"{self.person()}, {self.pick(['MD', 'DO', 'NP', 'PA-C'])}"

    def npi(self) -> str:
        nine = self.rng.choice("12") + "".join(self.rng.choices("0123456789", k=8))
        return nine + luhn_digit("80840" + nine)

    def phone(self) -> str:
        return f"({self.rng.randint(201, 989)}) 555-01{self.rng.randint(0, 99):02d}"

    def practice(self) -> str:
        return f"{self.pick(PLACES)} {self.pick(PRACTICES)}"

    def address(self) -> str:
        street = f"{self.rng.randint(10, 9800)} {self.pick(STREETS)}"
        return f"{street}, {self.pick(CITIES)}, {self.rng.choice(['OH', 'PA', 'NC', 'TX', 'WA'])}"

    def mrn(self) -> str:
        style = self.rng.randrange(3)
        if style == 0:
            return f"{self.rng.randrange(10**7, 10**8)}"
        if style == 1:
            return f"{self.rng.choice('ABCHMR')}{self.rng.randrange(10**6, 10**7)}"
        return f"MR-{self.rng.randrange(10**5, 10**6)}"

    def day(self, start: date, span_days: int) -> date:
        return start + timedelta(days=self.rng.randrange(span_days))

    def printed(self, moment: date) -> str:
        return moment.strftime(self.date_style)

    def patient(self) -> dict[str, str]:
        return {
            "patient_name": self.person(),
            "dob": self.day(date(1932, 1, 1), 365 * 80).isoformat(),
            "mrn": self.mrn(),
        }
