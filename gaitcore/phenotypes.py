"""The phenotype catalogue: what a clinician reads next to every prediction (API, pages, PDF, FHIR).

One entry per prediction target: display name, unit (as shown and as UCUM), body system, description,
plausible range (values outside it are flagged, and prediction intervals are clipped to it), which
direction is worse, decimals for display, and codes. LOINC codes are given only where one exists for
that measurement and we are sure of it; an empty code means "none known", never a guess.

Plain Python (no numpy, no Django): the API process, the workers and the uploader all read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SYSTEMS = (
    "cardiovascular", "liver", "sleep", "glycemic", "nmr_metabolomics", "lifestyle", "frailty",
    "mental_health", "body_composition", "bone_density", "lipids", "renal", "hematopoietic", "immune",
    "anthropometric", "metabolomics", "microbiome", "diet",
)  # fmt: skip  (docs/science.md#body-systems, in its order)
SYSTEM_NAMES = {
    "cardiovascular": "Cardiovascular", "liver": "Liver", "sleep": "Sleep", "glycemic": "Glycaemic control",
    "nmr_metabolomics": "NMR metabolomics", "lifestyle": "Lifestyle and activity", "frailty": "Frailty",
    "mental_health": "Mental health", "body_composition": "Body composition", "bone_density": "Bone density",
    "lipids": "Lipids", "renal": "Kidney", "hematopoietic": "Blood count", "immune": "Immune and inflammation",
    "anthropometric": "Body measurements", "metabolomics": "Serum metabolomics", "microbiome": "Gut microbiome",
    "diet": "Diet",
}  # fmt: skip
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class PhenotypeInfo:
    name: str  # the code name predictors use
    display: str
    unit: str  # as shown ("" for unitless scores)
    ucum: str  # UCUM code of the unit
    system: str
    description: str
    low: float  # plausible range (physiological limits, not a normal range)
    high: float
    worse: str = ""  # "higher" | "lower" | "" (neither direction is worse by itself)
    decimals: int = 1
    loinc: str = ""

    @property
    def system_display(self) -> str:
        return system_name(self.system)

    def plausible(self, value: float | None) -> bool:
        return value is None or (math.isfinite(value) and self.low <= value <= self.high)

    def clip(self, value: float | None) -> float | None:
        return None if value is None else min(self.high, max(self.low, value))

    def fmt(self, value: float | None) -> str:
        return "-" if value is None else f"{value:.{self.decimals}f}"


def _i(name, display, unit, ucum, system, low, high, worse="", decimals=1, loinc="", description=""):
    return PhenotypeInfo(name, display, unit, ucum, system, description or display, low, high, worse, decimals, loinc)


CATALOGUE: tuple[PhenotypeInfo, ...] = (
    # covariates and the age head's derived outputs
    _i("age", "Age (predicted from gait)", "years", "a", "anthropometric", 0, 120, loinc="30525-0",
       description="Chronological age predicted from gait (the age head; shown as gait age)"),
    _i("gait_age", "Gait age", "years", "a", "anthropometric", 0, 120, "higher",
       description="The age a typical person of this sex walks like (the age head's prediction)"),
    _i("gait_age_gap", "Gait-age gap", "years", "a", "anthropometric", -60, 60, "higher",
       description="Gait age minus chronological age (positive: walks older than their age)"),
    _i("gait_age_gap_corrected", "Gait-age gap, corrected for regression to the mean", "years", "a",
       "anthropometric", -60, 60, "higher",
       description="Gait age minus the gait age expected at this chronological age in the training cohort "
                   "(0 on average at every age)"),
    _i("bmi", "Body mass index", "kg/m2", "kg/m2", "body_composition", 12, 70, "higher", loinc="39156-5"),
    _i("vat", "Visceral fat mass (DXA)", "g", "g", "body_composition", 0, 6000, "higher", 0),
    _i("height", "Body height", "m", "m", "anthropometric", 1.0, 2.3, decimals=2, loinc="8302-2"),
    # cardiovascular
    _i("systolic_bp", "Systolic blood pressure", "mmHg", "mm[Hg]", "cardiovascular", 60, 260, "higher", 0, "8480-6"),
    _i("diastolic_bp", "Diastolic blood pressure", "mmHg", "mm[Hg]", "cardiovascular", 30, 160, "higher", 0, "8462-4"),
    _i("resting_heart_rate", "Resting heart rate", "beats/min", "/min", "cardiovascular", 25, 200, "higher", 0),
    _i("carotid_imt", "Carotid intima-media thickness", "mm", "mm", "cardiovascular", 0.2, 2.5, "higher", 2),
    _i("pulse_wave_velocity", "Pulse wave velocity", "m/s", "m/s", "cardiovascular", 3, 25, "higher"),
    # liver
    _i("liver_cap", "Liver fat (controlled attenuation parameter)", "dB/m", "dB/m", "liver", 100, 400, "higher", 0),
    _i("alt", "Alanine aminotransferase (ALT)", "U/L", "U/L", "liver", 1, 1000, "higher", 0, "1742-6"),
    _i("liver_stiffness", "Liver stiffness (elastography)", "kPa", "kPa", "liver", 1.5, 75, "higher"),
    _i("ggt", "Gamma-glutamyl transferase (GGT)", "U/L", "U/L", "liver", 1, 1500, "higher", 0, "2324-2"),
    # sleep
    _i("apnea_hypopnea_index", "Apnoea-hypopnoea index", "events/h", "/h", "sleep", 0, 150, "higher"),
    _i("sleep_efficiency", "Sleep efficiency", "%", "%", "sleep", 0, 100, "lower", 0),
    _i("total_sleep_time", "Total sleep time", "h", "h", "sleep", 0, 16, "lower"),
    _i("sleep_latency", "Sleep onset latency", "min", "min", "sleep", 0, 240, "higher", 0),
    # glycaemic
    _i("hba1c", "Haemoglobin A1c", "%", "%", "glycemic", 3, 20, "higher", 1, "4548-4"),
    _i("fasting_glucose", "Fasting glucose", "mg/dL", "mg/dL", "glycemic", 30, 600, "higher", 0, "1558-6"),
    _i("cgm_time_above_140", "Time above 140 mg/dL (continuous glucose monitoring)", "%", "%", "glycemic", 0, 100,
       "higher", 1),
    _i("fasting_insulin", "Fasting insulin", "uIU/mL", "u[IU]/mL", "glycemic", 0.5, 300, "higher", 1),
    # NMR metabolomics
    _i("nmr_glyca", "Glycoprotein acetyls (GlycA, NMR)", "mmol/L", "mmol/L", "nmr_metabolomics", 0.3, 3.5, "higher", 2),
    _i("nmr_albumin", "Albumin (NMR)", "g/L", "g/L", "nmr_metabolomics", 15, 65, "lower", 0),
    _i("nmr_leucine", "Leucine (NMR)", "mmol/L", "mmol/L", "nmr_metabolomics", 0.01, 0.4, "", 3),
    _i("nmr_glycine", "Glycine (NMR)", "mmol/L", "mmol/L", "nmr_metabolomics", 0.05, 1.0, "", 2),
    # lifestyle
    _i("steps_per_day", "Steps per day", "steps/day", "/d", "lifestyle", 0, 60000, "lower", 0, "41950-7"),
    _i("sedentary_hours", "Sedentary time", "h/day", "h/d", "lifestyle", 0, 24, "higher"),
    _i("alcohol_units_week", "Alcohol intake", "units/week", "/wk", "lifestyle", 0, 200, "higher", 0),
    _i("physical_activity_met_h", "Physical activity", "MET-h/week", "/wk", "lifestyle", 0, 300, "lower", 0),
    # frailty
    _i("grip_strength", "Grip strength", "kg", "kg", "frailty", 2, 90, "lower", 0),
    _i("chair_stand_5x_time", "Five-times chair stand time", "s", "s", "frailty", 3, 90, "higher"),
    _i("frailty_index", "Frailty index", "", "1", "frailty", 0, 1, "higher", 2),
    _i("falls_last_year", "Fall in the last year (probability)", "", "1", "frailty", 0, 1, "higher", 2),
    # mental health
    _i("phq9", "Depressive symptoms (PHQ-9 score)", "points", "{score}", "mental_health", 0, 27, "higher", 0, "44261-6"),
    _i("gad7", "Anxiety symptoms (GAD-7 score)", "points", "{score}", "mental_health", 0, 21, "higher", 0, "70274-6"),
    _i("wellbeing_score", "Well-being score", "points", "{score}", "mental_health", 0, 100, "lower", 0),
    _i("reaction_time", "Reaction time", "ms", "ms", "mental_health", 100, 2000, "higher", 0),
    # body composition
    _i("lean_mass", "Lean mass (DXA)", "kg", "kg", "body_composition", 15, 110, "lower", 0),
    _i("body_fat_percent", "Body fat (DXA)", "%", "%", "body_composition", 3, 70, "higher", 0, "41982-0"),
    _i("appendicular_lean_index", "Appendicular lean mass index", "kg/m2", "kg/m2", "body_composition", 3, 15, "lower"),
    _i("android_gynoid_ratio", "Android/gynoid fat ratio", "", "1", "body_composition", 0.3, 2.5, "higher", 2),
    # bone density
    _i("spine_bmd_tscore", "Lumbar spine bone density (T-score)", "SD", "{SD}", "bone_density", -6, 5, "lower", 1),
    _i("femoral_neck_bmd", "Femoral neck bone density", "g/cm2", "g/cm2", "bone_density", 0.3, 1.6, "lower", 2),
    _i("total_body_bmd", "Total body bone density", "g/cm2", "g/cm2", "bone_density", 0.6, 1.8, "lower", 2),
    # lipids
    _i("ldl_cholesterol", "LDL cholesterol", "mg/dL", "mg/dL", "lipids", 20, 400, "higher", 0, "2089-1"),
    _i("hdl_cholesterol", "HDL cholesterol", "mg/dL", "mg/dL", "lipids", 10, 150, "lower", 0, "2085-9"),
    _i("triglycerides", "Triglycerides", "mg/dL", "mg/dL", "lipids", 20, 2000, "higher", 0, "2571-8"),
    _i("apob", "Apolipoprotein B", "mg/dL", "mg/dL", "lipids", 20, 300, "higher", 0, "1884-6"),
    # renal
    _i("egfr", "Estimated glomerular filtration rate", "mL/min/1.73 m2", "mL/min/{1.73_m2}", "renal", 5, 160, "lower", 0),
    _i("creatinine", "Creatinine", "mg/dL", "mg/dL", "renal", 0.2, 15, "higher", 2, "2160-0"),
    _i("urine_acr", "Urine albumin/creatinine ratio", "mg/g", "mg/g", "renal", 0, 3000, "higher", 0, "9318-7"),
    _i("cystatin_c", "Cystatin C", "mg/L", "mg/L", "renal", 0.3, 8, "higher", 2, "33863-2"),
    # blood count
    _i("hemoglobin", "Haemoglobin", "g/dL", "g/dL", "hematopoietic", 5, 22, "", 1, "718-7"),
    _i("hematocrit", "Haematocrit", "%", "%", "hematopoietic", 15, 65, "", 0, "4544-3"),
    _i("platelets", "Platelets", "10^9/L", "10*9/L", "hematopoietic", 10, 1000, "", 0, "777-3"),
    _i("mcv", "Mean corpuscular volume", "fL", "fL", "hematopoietic", 50, 130, "", 0, "787-2"),
    _i("rdw", "Red cell distribution width", "%", "%", "hematopoietic", 9, 30, "higher", 1, "788-0"),
    # immune
    _i("crp", "C-reactive protein", "mg/L", "mg/L", "immune", 0, 300, "higher", 1, "1988-5"),
    _i("il6", "Interleukin-6", "pg/mL", "pg/mL", "immune", 0, 500, "higher", 1, "26881-3"),
    _i("neutrophil_lymphocyte_ratio", "Neutrophil/lymphocyte ratio", "", "1", "immune", 0.2, 30, "higher", 1),
    _i("ferritin", "Ferritin", "ng/mL", "ng/mL", "immune", 2, 3000, "", 0, "2276-4"),
    # body measurements
    _i("waist_circumference", "Waist circumference", "cm", "cm", "anthropometric", 40, 200, "higher", 0, "8280-0"),
    _i("hip_circumference", "Hip circumference", "cm", "cm", "anthropometric", 50, 200, "", 0),
    _i("waist_hip_ratio", "Waist/hip ratio", "", "1", "anthropometric", 0.5, 1.5, "higher", 2),
    _i("neck_circumference", "Neck circumference", "cm", "cm", "anthropometric", 20, 60, "higher", 0),
    _i("sitting_height_ratio", "Sitting height/height ratio", "", "1", "anthropometric", 0.4, 0.65, "", 3),
    # serum metabolomics (z-scores of a metabolomics panel)
    _i("met_urate", "Urate (metabolomics panel, z-score)", "z-score", "{z-score}", "metabolomics", -6, 6, "higher"),
    _i("met_indoxyl_sulfate", "Indoxyl sulfate (metabolomics panel, z-score)", "z-score", "{z-score}", "metabolomics",
       -6, 6, "higher"),
    _i("met_carnitine", "Carnitine (metabolomics panel, z-score)", "z-score", "{z-score}", "metabolomics", -6, 6, "lower"),
    _i("met_cortisol", "Cortisol (metabolomics panel, z-score)", "z-score", "{z-score}", "metabolomics", -6, 6, "higher"),
    # gut microbiome
    _i("mb_shannon_diversity", "Gut microbiome diversity (Shannon index)", "nats", "{nats}", "microbiome", 0, 7, "lower", 2),
    _i("mb_species_richness", "Gut microbiome species richness", "species", "{species}", "microbiome", 10, 1000, "lower", 0),
    _i("mb_akkermansia_clr", "Akkermansia abundance (centred log-ratio)", "", "1", "microbiome", -10, 10, "", 1),
    _i("mb_prevotella_bacteroides", "Prevotella/Bacteroides (log-ratio)", "", "1", "microbiome", -10, 10, "", 1),
    # diet
    _i("diet_fiber", "Dietary fibre", "g/day", "g/d", "diet", 0, 150, "lower", 0),
    _i("diet_added_sugar", "Added sugar", "g/day", "g/d", "diet", 0, 500, "higher", 0),
    _i("diet_energy", "Energy intake", "kcal/day", "kcal/d", "diet", 500, 8000, "", 0),
    _i("diet_red_meat", "Red meat", "servings/week", "/wk", "diet", 0, 50, "higher", 0),
    _i("mediterranean_score", "Mediterranean diet score", "points", "{score}", "diet", 0, 14, "lower", 0),
)  # fmt: skip
BY_NAME: dict[str, PhenotypeInfo] = {p.name: p for p in CATALOGUE}
DEVIATION_SUFFIX = "_deviation"


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system.replace("_", " ").capitalize())


def info(name: str) -> PhenotypeInfo:
    """The catalogue entry of ``name``; a body-system deviation (``<system>_deviation``) or an unknown
    target gets an entry built from what is known (never a code name as its label)."""
    if name in BY_NAME:
        return BY_NAME[name]
    if name.endswith(DEVIATION_SUFFIX):
        system = name[: -len(DEVIATION_SUFFIX)]
        return PhenotypeInfo(name, f"{system_name(system)} deviation", "SD", "{SD}", system,
                             "Predicted deviation of the body system from the reference, in SD units",
                             -10, 10, "", 2)
    words = name.replace("_", " ").strip()
    return PhenotypeInfo(name, f"{words[:1].upper()}{words[1:]} (not in the catalogue)", "", "1", "other",
                         "A predictor target the catalogue does not describe", -math.inf, math.inf)


def display(name: str) -> str:
    return info(name).display


__all__ = ["CATALOGUE", "BY_NAME", "SYSTEMS", "SYSTEM_NAMES", "PhenotypeInfo", "info", "display", "system_name",
           "LOINC", "UCUM"]
