"""Subjects, latent health factors, phenotypes over the 18 body systems, and the truth about them.

Each subject has the covariates of the paper's baseline model (age, sex, height, BMI, VAT) and
latent factors (standard-normal scores). Five factors are *gait-linked*: they change how the subject
moves (see :func:`gait_params` in :mod:`subject`), so gait carries information about them beyond the
covariates. Four are *gait-free*: independent of everything else and of gait.

=================  ===========  =================================================================
factor             gait-linked  what it does to movement
=================  ===========  =================================================================
frailty            yes          slower, more variable, wider-based gait; fewer chair stands; more sway
sarcopenia         yes          shorter steps, less swing knee flexion, fewer chair stands
mood               yes          (low mood/depression) less arm swing, slower, head and trunk flexed
sleep_debt         yes          more trunk sway, more stride-time variability, more Romberg sway
cardiometabolic    yes          slower, longer double support
lipid_genetic      no           -
erythropoiesis     no           -
microbiome         no           -
diet_quality       no           -
=================  ===========  =================================================================

A phenotype is ``base + scale * (sum_k loading_k * x_k + noise_sd * e)`` with ``x`` the standardised
covariates (``age_z = (age-50)/12``, ``male = +-0.5``, ``bmi_z = (bmi-26)/4.5``, ``vat_z`` = z of log
VAT, ``height_z`` = sex-standardised height) and the latent scores; ``transform = "log"`` means the
value is ``exp`` of that. Binary phenotypes are Bernoulli(sigmoid(linear predictor)). The three
systems hematopoietic, microbiome and diet load only on covariates (linearly) and gait-free factors:
an honest analysis must find no predictive gain there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SYSTEMS = (
    "cardiovascular", "liver", "sleep", "glycemic", "nmr_metabolomics", "lifestyle", "frailty",
    "mental_health", "body_composition", "bone_density", "lipids", "renal", "hematopoietic", "immune",
    "anthropometric", "metabolomics", "microbiome", "diet",
)  # fmt: skip
GAIT_LINKED = ("frailty", "sarcopenia", "mood", "sleep_debt", "cardiometabolic")
GAIT_FREE = ("lipid_genetic", "erythropoiesis", "microbiome", "diet_quality")
LATENTS = GAIT_LINKED + GAIT_FREE
COVARIATES = ("age_z", "male", "bmi_z", "vat_z", "height_z")
SIGNED_UNITS = ("z", "SD", "clr", "log-ratio")


@dataclass(frozen=True)
class Phenotype:
    name: str
    system: str
    units: str
    base: float
    scale: float
    loadings: dict
    noise_sd: float = 0.6
    transform: str = "lin"  # lin | log | binary

    @property
    def gait_factors(self) -> list[str]:
        return [k for k, v in self.loadings.items() if k in GAIT_LINKED and v != 0]


def _p(name, system, units, base, scale, noise=0.6, transform="lin", **load):
    return Phenotype(name, system, units, base, scale, load, noise, transform)


PHENOTYPES: tuple[Phenotype, ...] = (
    # cardiovascular
    _p("systolic_bp", "cardiovascular", "mmHg", 122, 14, age_z=.45, male=.25, bmi_z=.3, cardiometabolic=.4),
    _p("diastolic_bp", "cardiovascular", "mmHg", 78, 9, age_z=.2, bmi_z=.3, cardiometabolic=.35),
    _p("resting_heart_rate", "cardiovascular", "bpm", 66, 9, male=-.2, cardiometabolic=.3, frailty=.2, sleep_debt=.2),
    _p("carotid_imt", "cardiovascular", "mm", .70, .12, age_z=.6, male=.2, cardiometabolic=.3),
    _p("pulse_wave_velocity", "cardiovascular", "m/s", 8.0, 1.5, age_z=.6, cardiometabolic=.35, frailty=.15),
    # liver
    _p("liver_cap", "liver", "dB/m", 240, 45, bmi_z=.4, vat_z=.3, sarcopenia=.35, cardiometabolic=.2),
    _p("alt", "liver", "U/L", 3.1, .4, transform="log", male=.3, vat_z=.3, sarcopenia=.3),
    _p("liver_stiffness", "liver", "kPa", 5.0, 1.2, age_z=.2, bmi_z=.2, sarcopenia=.3),
    _p("ggt", "liver", "U/L", 3.2, .5, transform="log", male=.3, vat_z=.2, sarcopenia=.25, mood=.1),
    # sleep
    _p("apnea_hypopnea_index", "sleep", "events/h", 1.7, .7, transform="log", age_z=.3, male=.3, bmi_z=.4, sleep_debt=.3),
    _p("sleep_efficiency", "sleep", "%", 85, 7, age_z=-.3, sleep_debt=-.5, mood=-.2),
    _p("total_sleep_time", "sleep", "h", 6.8, .8, age_z=-.1, sleep_debt=-.6),
    _p("sleep_latency", "sleep", "min", 2.8, .6, transform="log", sleep_debt=.4, mood=.3),
    # glycemic
    _p("hba1c", "glycemic", "%", 5.5, .45, age_z=.35, bmi_z=.3, vat_z=.3, cardiometabolic=.35),
    _p("fasting_glucose", "glycemic", "mg/dL", 95, 12, age_z=.3, vat_z=.3, cardiometabolic=.3),
    _p("cgm_time_above_140", "glycemic", "%", 1.5, .8, transform="log", vat_z=.3, cardiometabolic=.4, frailty=.15),
    _p("fasting_insulin", "glycemic", "uU/mL", 2.2, .5, transform="log", bmi_z=.4, vat_z=.3, cardiometabolic=.3, sarcopenia=.2),
    # NMR metabolomics (Nightingale)
    _p("nmr_glyca", "nmr_metabolomics", "mmol/L", 1.3, .15, age_z=.2, bmi_z=.3, frailty=.35),
    _p("nmr_albumin", "nmr_metabolomics", "g/L", 45, 2.5, age_z=-.3, frailty=-.35),
    _p("nmr_leucine", "nmr_metabolomics", "mmol/L", .09, .015, male=.4, bmi_z=.2, sarcopenia=-.4),
    _p("nmr_glycine", "nmr_metabolomics", "mmol/L", .30, .06, male=-.3, vat_z=-.3, cardiometabolic=-.2),
    # lifestyle
    _p("steps_per_day", "lifestyle", "steps", 7500, 2500, age_z=-.2, bmi_z=-.2, frailty=-.4, mood=-.3),
    _p("sedentary_hours", "lifestyle", "h/day", 8, 2, frailty=.3, mood=.3),
    _p("alcohol_units_week", "lifestyle", "units", 6, 5, male=.3, mood=.15),
    _p("physical_activity_met_h", "lifestyle", "MET-h/wk", 20, 9, frailty=-.3, mood=-.25, cardiometabolic=-.2),
    # frailty
    _p("grip_strength", "frailty", "kg", 35, 9, male=.8, age_z=-.3, sarcopenia=-.4, frailty=-.3),
    _p("chair_stand_5x_time", "frailty", "s", 11, 2.5, age_z=.3, bmi_z=.2, frailty=.45, sarcopenia=.3),
    _p("frailty_index", "frailty", "fraction", .10, .06, age_z=.4, frailty=.6),
    _p("falls_last_year", "frailty", "binary", -1.5, 1, transform="binary", age_z=.3, frailty=.5),
    # mental health
    _p("phq9", "mental_health", "score", 1.3, .7, transform="log", mood=.7, sleep_debt=.2),
    _p("gad7", "mental_health", "score", 1.1, .7, transform="log", mood=.5, sleep_debt=.25),
    _p("wellbeing_score", "mental_health", "score", 50, 10, mood=-.6),
    _p("reaction_time", "mental_health", "ms", 520, 70, age_z=.5, mood=.2, frailty=.2),
    # body composition (DXA)
    _p("lean_mass", "body_composition", "kg", 50, 10, male=.8, height_z=.4, bmi_z=.3, sarcopenia=-.3),
    _p("body_fat_percent", "body_composition", "%", 30, 7, male=-.6, bmi_z=.7, sarcopenia=.15),
    _p("appendicular_lean_index", "body_composition", "kg/m2", 7.5, 1.2, male=.7, bmi_z=.4, sarcopenia=-.45),
    _p("android_gynoid_ratio", "body_composition", "ratio", 1.0, .2, male=.5, vat_z=.6, bmi_z=.2),
    # bone density
    _p("spine_bmd_tscore", "bone_density", "SD", -.5, 1.2, age_z=-.3, male=.2, bmi_z=.25, frailty=-.25, sarcopenia=-.2),
    _p("femoral_neck_bmd", "bone_density", "g/cm2", .85, .12, age_z=-.4, male=.3, bmi_z=.3, sarcopenia=-.3),
    _p("total_body_bmd", "bone_density", "g/cm2", 1.15, .11, age_z=-.3, male=.4, bmi_z=.25, frailty=-.2),
    # lipids
    _p("ldl_cholesterol", "lipids", "mg/dL", 120, 30, age_z=.3, male=.1, lipid_genetic=.6, cardiometabolic=.2),
    _p("hdl_cholesterol", "lipids", "mg/dL", 55, 14, male=-.5, bmi_z=-.3, cardiometabolic=-.3, lipid_genetic=-.3),
    _p("triglycerides", "lipids", "mg/dL", 4.7, .45, transform="log", vat_z=.35, cardiometabolic=.35),
    _p("apob", "lipids", "mg/dL", 95, 22, age_z=.3, lipid_genetic=.5, cardiometabolic=.25),
    # renal
    _p("egfr", "renal", "mL/min/1.73m2", 95, 15, age_z=-.6, male=.1, cardiometabolic=-.2, frailty=-.2),
    _p("creatinine", "renal", "mg/dL", .9, .2, male=.6, age_z=.3, sarcopenia=-.3),
    _p("urine_acr", "renal", "mg/g", 1.8, .8, transform="log", age_z=.2, cardiometabolic=.35, frailty=.15),
    _p("cystatin_c", "renal", "mg/L", .85, .15, age_z=.55, bmi_z=.15, frailty=.25),
    # hematopoietic (no gait-linked factor)
    _p("hemoglobin", "hematopoietic", "g/dL", 14, 1.3, male=.7, age_z=-.1, erythropoiesis=.6),
    _p("hematocrit", "hematopoietic", "%", 42, 3.5, male=.6, erythropoiesis=.6),
    _p("platelets", "hematopoietic", "10^9/L", 250, 55, male=-.3, age_z=-.15, bmi_z=.1, erythropoiesis=-.2),
    _p("mcv", "hematopoietic", "fL", 90, 4.5, age_z=.2, erythropoiesis=.4),
    _p("rdw", "hematopoietic", "%", 13, 1, age_z=.25, erythropoiesis=-.4),
    # immune
    _p("crp", "immune", "mg/L", .3, .9, transform="log", bmi_z=.4, vat_z=.3, frailty=.35),
    _p("il6", "immune", "pg/mL", .8, .6, transform="log", age_z=.3, frailty=.4, mood=.2),
    _p("neutrophil_lymphocyte_ratio", "immune", "ratio", 2.0, .7, age_z=.2, frailty=.3, sleep_debt=.2),
    _p("ferritin", "immune", "ng/mL", 4.5, .7, transform="log", male=.6, vat_z=.2, frailty=.15),
    # anthropometric
    _p("waist_circumference", "anthropometric", "cm", 92, 12, male=.3, bmi_z=.8, vat_z=.4),
    _p("hip_circumference", "anthropometric", "cm", 100, 9, male=-.1, bmi_z=.8, height_z=.2),
    _p("waist_hip_ratio", "anthropometric", "ratio", .88, .08, male=.6, vat_z=.5),
    _p("neck_circumference", "anthropometric", "cm", 36, 3, male=.7, bmi_z=.5, sleep_debt=.15),
    _p("sitting_height_ratio", "anthropometric", "ratio", .52, .012, male=-.1, height_z=-.2, age_z=-.1, frailty=-.15),
    # metabolomics (serum)
    _p("met_urate", "metabolomics", "z", 0, 1, male=.5, bmi_z=.3, cardiometabolic=.3),
    _p("met_indoxyl_sulfate", "metabolomics", "z", 0, 1, age_z=.3, frailty=.3),
    _p("met_carnitine", "metabolomics", "z", 0, 1, male=.3, sarcopenia=-.4),
    _p("met_cortisol", "metabolomics", "z", 0, 1, sleep_debt=.45, mood=.3),
    # microbiome (no gait-linked factor)
    _p("mb_shannon_diversity", "microbiome", "nats", 3.5, .5, age_z=.15, bmi_z=-.2, microbiome=.7),
    _p("mb_species_richness", "microbiome", "species", 250, 60, age_z=.15, microbiome=.7),
    _p("mb_akkermansia_clr", "microbiome", "clr", 0, 1.5, bmi_z=-.3, microbiome=.5),
    _p("mb_prevotella_bacteroides", "microbiome", "log-ratio", -1, 1.2, microbiome=-.4, diet_quality=.3),
    # diet (no gait-linked factor)
    _p("diet_fiber", "diet", "g/day", 25, 8, male=.2, age_z=.15, diet_quality=.7),
    _p("diet_added_sugar", "diet", "g/day", 60, 20, male=.2, age_z=-.15, diet_quality=-.5),
    _p("diet_energy", "diet", "kcal/day", 2100, 450, male=.6, height_z=.2, bmi_z=.2, diet_quality=-.1),
    _p("diet_red_meat", "diet", "servings/wk", 4, 2, male=.4, diet_quality=-.5),
    _p("mediterranean_score", "diet", "score", 5, 2, age_z=.2, diet_quality=.7),
)  # fmt: skip

assert {p.system for p in PHENOTYPES} == set(SYSTEMS)
NO_GAIT_SYSTEMS = tuple(s for s in SYSTEMS if not any(p.gait_factors for p in PHENOTYPES if p.system == s))

# --- covariates ---------------------------------------------------------------------------------
HEIGHT_MEAN = {True: 1.765, False: 1.635}  # m (adult height by sex)
HEIGHT_SD = {True: 0.070, False: 0.065}


@dataclass
class Subject:
    """Baseline draw of one subject. Latent scores in ``latents``; ``vat`` in grams (DXA VAT mass)."""

    index: int
    subject_id: str
    age: float
    male: bool
    height: float  # m
    bmi: float
    vat: float  # g
    latents: dict
    intervention: bool = False
    longitudinal: bool = False
    vat_resid: float = 0.0

    def covariates(self) -> dict[str, float]:
        return {
            "age_z": (self.age - 50.0) / 12.0,
            "male": 0.5 if self.male else -0.5,
            "bmi_z": (self.bmi - 26.0) / 4.5,
            "vat_z": (math.log(self.vat) - 6.6) / 0.6,
            "height_z": (self.height - HEIGHT_MEAN[self.male]) / HEIGHT_SD[self.male],
        }


def _vat(age: float, male: bool, bmi: float, resid: float) -> float:
    return float(math.exp(6.35 + 0.075 * (bmi - 26) + 0.45 * male + 0.015 * (age - 50) + resid))


def draw_subject(index: int, rng: np.random.Generator, longitudinal_share: float = 0.5) -> Subject:
    """Covariates and latent factors of one adult (ages 20-79, about the paper's cohort's spread)."""
    age = float(np.clip(rng.normal(52, 12), 20, 79))
    male = bool(rng.random() < 0.5)
    height = float(rng.normal(HEIGHT_MEAN[male], HEIGHT_SD[male]) - 0.0012 * max(0.0, age - 50))
    bmi = float(np.clip(np.exp(rng.normal(np.log(25.5 + 0.04 * (age - 50)), 0.15)), 16.5, 48))
    vat_resid = float(rng.normal(0, 0.35))
    vat = _vat(age, male, bmi, vat_resid)
    z = rng.standard_normal(len(LATENTS))
    lat = dict(zip(LATENTS, z.tolist(), strict=False))
    # gait-linked factors partly depend on the covariates (older -> frailer, heavier -> cardiometabolic)
    age_z, bmi_z = (age - 50) / 12, (bmi - 26) / 4.5
    lat["frailty"] = 0.4 * age_z + 0.2 * bmi_z + 0.9 * lat["frailty"]
    lat["sarcopenia"] = 0.35 * age_z + 0.95 * lat["sarcopenia"]
    lat["cardiometabolic"] = 0.35 * bmi_z + 0.15 * age_z + 0.9 * lat["cardiometabolic"]
    longi = bool(rng.random() < longitudinal_share)
    inter = bool(longi and rng.random() < 0.5)
    return Subject(index, f"SYN{index:05d}", age, male, height, bmi, vat, lat, inter, longi, vat_resid)


def age_subject(s: Subject, years: float, rng: np.random.Generator, intervention_active: bool) -> Subject:
    """The same person ``years`` later: older, ageing drift of the gait-linked factors, and (in the
    intervention arm) an exercise/lifestyle effect: frailty -0.4 SD, sarcopenia -0.3, mood -0.2,
    cardiometabolic -0.2."""
    lat = dict(s.latents)
    lat["frailty"] += 0.04 * years * (1 + max(0.0, s.age - 50) / 20) + 0.15 * math.sqrt(years) * rng.standard_normal()
    lat["sarcopenia"] += 0.03 * years + 0.1 * math.sqrt(years) * rng.standard_normal()
    lat["mood"] = 0.7 * lat["mood"] + 0.71 * rng.standard_normal()  # state-like, partly persistent
    lat["sleep_debt"] = 0.6 * lat["sleep_debt"] + 0.8 * rng.standard_normal()
    lat["cardiometabolic"] += 0.02 * years + 0.1 * math.sqrt(years) * rng.standard_normal()
    if intervention_active:
        lat["frailty"] -= 0.4
        lat["sarcopenia"] -= 0.3
        lat["mood"] -= 0.2
        lat["cardiometabolic"] -= 0.2
    age = s.age + years
    bmi = float(np.clip(s.bmi + 0.1 * years + 0.3 * rng.standard_normal() - (0.6 if intervention_active else 0), 16, 50))
    height = s.height - 0.0012 * max(0.0, age - 50) + 0.0012 * max(0.0, s.age - 50)
    return Subject(s.index, s.subject_id, age, s.male, height, bmi, _vat(age, s.male, bmi, s.vat_resid), lat,
                   s.intervention, s.longitudinal, s.vat_resid)


def phenotype_values(s: Subject, rng: np.random.Generator) -> dict[str, float]:
    """All phenotypes of a subject at one visit (with fresh measurement noise)."""
    x = {**s.covariates(), **s.latents}
    out = {}
    e = rng.standard_normal(len(PHENOTYPES))
    for p, ei in zip(PHENOTYPES, e, strict=False):
        lin = sum(v * x[k] for k, v in p.loadings.items()) + p.noise_sd * ei
        if p.transform == "binary":
            prob = 1.0 / (1.0 + math.exp(-(p.base + p.scale * lin)))
            out[p.name] = float(rng.random() < prob)
        elif p.transform == "log":
            out[p.name] = round(float(math.exp(p.base + p.scale * lin)), 4)
        else:
            v = p.base + p.scale * lin
            if p.base > 0 and p.units not in SIGNED_UNITS:
                v = max(v, 0.0)  # counts, masses, concentrations cannot be negative
            out[p.name] = round(float(v), 4)
    return out


# body systems of the covariates and of the predictor's derived outputs (not in the phenotype catalogue)
COVARIATE_SYSTEMS = {"age": "anthropometric", "gait_age": "anthropometric", "gait_age_gap": "anthropometric",
                     "gait_age_gap_corrected": "anthropometric", "bmi": "body_composition",
                     "vat": "body_composition", "height": "anthropometric", "sex": "anthropometric"}


def body_system(target: str) -> str:
    """The body system of a prediction target: a covariate, a derived output or a catalogue phenotype."""
    if target in COVARIATE_SYSTEMS:
        return COVARIATE_SYSTEMS[target]
    return next((p.system for p in PHENOTYPES if p.name == target), "other")


def truth() -> dict:
    """The generator's ground truth (written to ``truth.json``)."""
    phen = {}
    for p in PHENOTYPES:
        terms = " + ".join(f"{v:+g}*{k}" for k, v in p.loadings.items())
        lin = f"({terms} + {p.noise_sd:g}*noise)"
        formula = {"lin": f"{p.base:g} + {p.scale:g}*{lin}", "log": f"exp({p.base:g} + {p.scale:g}*{lin})",
                   "binary": f"Bernoulli(sigmoid({p.base:g} + {p.scale:g}*{lin}))"}[p.transform]
        gait_var = sum(p.loadings.get(k, 0) ** 2 for k in GAIT_LINKED)
        phen[p.name] = {
            "system": p.system, "units": p.units, "transform": p.transform, "formula": formula,
            "loadings": p.loadings, "noise_sd": p.noise_sd, "gait_linked_factors": p.gait_factors,
            "gait_signal_beyond_covariates": bool(p.gait_factors),
            "gait_factor_loading_norm": round(math.sqrt(gait_var), 4),
        }
    return {
        "covariates": {"age": "years", "sex": "M/F", "height": "m", "bmi": "kg/m2", "vat": "g (DXA visceral fat mass)",
                       "standardised": {"age_z": "(age-50)/12", "male": "+0.5 male, -0.5 female",
                                        "bmi_z": "(bmi-26)/4.5", "vat_z": "(ln(vat)-6.6)/0.6",
                                        "height_z": "(height - sex mean)/sex SD"},
                       "gait_effects_of_age": AGE_GAIT_EFFECTS},
        "latent_factors": {
            "gait_linked": list(GAIT_LINKED), "gait_free": list(GAIT_FREE),
            "definitions": {
                "frailty": "0.4*age_z + 0.2*bmi_z + 0.9*N(0,1)", "sarcopenia": "0.35*age_z + 0.95*N(0,1)",
                "cardiometabolic": "0.35*bmi_z + 0.15*age_z + 0.9*N(0,1)",
                "mood": "N(0,1) (higher = lower mood)", "sleep_debt": "N(0,1)",
                **{k: "N(0,1), independent of everything" for k in GAIT_FREE}},
            "gait_effects": GAIT_EFFECTS,
        },
        "systems": {s: {"n_phenotypes": sum(p.system == s for p in PHENOTYPES),
                        "gait_signal": s not in NO_GAIT_SYSTEMS} for s in SYSTEMS},
        "systems_without_gait_signal": list(NO_GAIT_SYSTEMS),
        "phenotypes": phen,
    }


GAIT_EFFECTS = {
    "frailty": "speed -0.06 m/s/SD, stance +0.8 %/SD, step width +1 cm/SD, stride CV +0.4 %/SD, asymmetry up, "
               "Romberg sway x1.28/SD, chair stands -1.5/30 s per SD, trunk sway +0.3 deg/SD",
    "sarcopenia": "step length -2.5 cm/SD (speed via step length, cadence unchanged), swing knee flexion -5 %/SD, "
                  "chair stands -1.2/30 s per SD",
    "mood": "arm swing -3 deg/SD, speed -0.04 m/s/SD, trunk lean +1.5 deg/SD, head flexion +2 deg/SD",
    "sleep_debt": "trunk lateral sway +0.5 deg/SD, stride CV +0.3 %/SD, Romberg sway x1.22/SD",
    "cardiometabolic": "speed -0.03 m/s/SD, stance +0.4 %/SD",
}

AGE_GAIT_EFFECTS = (
    "speed by age decade and sex (Bohannon & Andrews 2011 norms); stride CV +0.02 %/yr after 55; trunk lean "
    "+0.04 deg/yr; arm swing -0.05 deg/yr; swing knee flexion -0.2 %/yr; Romberg sway x1.012/yr; chair stands "
    "-0.1/30 s per yr after 40; through frailty, sarcopenia and cardiometabolic (which rise with age). "
    "Generator 1.1, independent of speed: thoracic kyphosis (Cobb) +0.45 (women) / +0.35 (men) deg/yr after 35, "
    "upper thorax flexed by half of it, neck taking back 70 % (forward head); peak hip extension -0.07 deg/yr "
    "after 25; anterior pelvic tilt +0.04 deg/yr after 25; push-off plantarflexion -0.08 deg/yr after 25; "
    "between-person SD 9 (Cobb), 2, 3 and 2.5 deg."
)
