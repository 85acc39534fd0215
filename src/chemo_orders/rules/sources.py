"""Citations shared by several rules, written once."""

THOMAS_2010 = (
    "Thomas DA, O'Brien S, Faderl S, et al. Chemoimmunotherapy with a modified hyper-CVAD and "
    "rituximab regimen improves outcome in de novo Philadelphia chromosome-negative precursor "
    "B-lineage acute lymphoblastic leukemia. J Clin Oncol 2010;28(24):3880-3889. PMID 20660823. "
    "doi:10.1200/JCO.2009.26.9456"
)
KEWALRAMANI_2004 = (
    "Kewalramani T, Zelenetz AD, Nimer SD, et al. Rituximab and ICE as second-line therapy before "
    "autologous stem cell transplantation for relapsed or primary refractory diffuse large B-cell "
    "lymphoma. Blood 2004;103(10):3684-3688. PMID 14739217. doi:10.1182/blood-2003-11-3911"
)
KANTARJIAN_2000 = (
    "Kantarjian HM, O'Brien S, Smith TL, et al. Results of treatment with hyper-CVAD, a "
    "dose-intensive regimen, in adult acute lymphocytic leukemia. J Clin Oncol 2000;18:547-561"
)
KANTARJIAN_2004 = (
    "Kantarjian H, Thomas D, O'Brien S, et al. Long-term follow-up results of hyperfractionated "
    "cyclophosphamide, vincristine, doxorubicin, and dexamethasone (Hyper-CVAD) in adult acute "
    "lymphocytic leukemia. Cancer 2004;101(12):2788-2801. doi:10.1002/cncr.20668"
)
NELARABINE_LABEL = (
    "Nelarabine (Arranon) US prescribing information: indicated for T-cell acute lymphoblastic "
    "leukemia and T-cell lymphoblastic lymphoma after at least two prior regimens"
)
ISMP_VINCA = (
    "ISMP Targeted Medication Safety Best Practices for Hospitals, Best Practice 2: dispense vinca "
    "alkaloids in a minibag, never a syringe"
)
FDA_VINCA_2021 = (
    "FDA vincristine labeling change (MedWatch, 15 Jan 2021): dilute in a flexible plastic container "
    "labeled 'FOR INTRAVENOUS USE ONLY—FATAL IF GIVEN BY OTHER ROUTES'"
)
ASCO_ONS_2016 = (
    "Neuss MN, Gilmore TR, Belderson KM, et al. 2016 Updated ASCO/ONS Chemotherapy Administration "
    "Safety Standards, Including Standards for Pediatric Oncology. Oncol Nurs Forum 2017;44(1):31-43. "
    "doi:10.1188/17.ONF.31-43"
)
FDA_CARBOPLATIN_2010 = (
    "US FDA/CDER. Carboplatin dosing (October 2010): cap GFR at 125 mL/min; maximum dose = target AUC × 150 mL/min"
)
CALVERT_1989 = "Calvert AH, Newell DR, Gumbrell LA, et al. J Clin Oncol 1989;7(11):1748-1756"
COSA_WEIGHT = (
    "COSA (Cancer Council Australia) wiki, 'How is dosage of cancer therapy calculated for adults?': "
    "dose adjustment common when weight varies by more than 10% (SECONDARY)"
)
COSA_INFANT_BSA = (
    "COSA (Cancer Council Australia) wiki, paediatric dosing: patients over 10 kg are dosed by BSA "
    "(Mosteller) unless the protocol says otherwise; below 10 kg BSA-based dosing can lead to "
    "significant overdoses and weight-based dosing is used (SECONDARY)"
)
PEDIATRIC_WEIGHT = (
    "APHON forum, NIH Clinical Center: recalculation at 10% weight change in adults and 5% in "
    "children (SECONDARY; institutional practice)"
)
INOTUZUMAB_LABEL = (
    "Inotuzumab ozogamicin (Besponsa) US prescribing information: indicated for CD22-positive B-cell precursor "
    "acute lymphoblastic leukemia"
)
BLINATUMOMAB_LABEL = (
    "Blinatumomab (Blincyto) US prescribing information: CD19-positive B-cell precursor ALL in first or second "
    "complete remission with minimal residual disease greater than or equal to 0.1%"
)
MGB_CHEMO_ORDER_ENTRY = (
    "Mass General Brigham Clinical Help, chemotherapy order entry: 'Restrictions to Editing Chemo Orders' "
    "(increases to standard dose amounts are exception orders; a decreased dose can be restored to the standard) "
    "and 'Dose Modifications' (changes by percent or amount; type a reason; the new dose cannot be greater than "
    "the standard). https://clinicalhelp.mgb.org/orderEntry/overviewChemoRestrictionsEditing.htm, "
    "https://clinicalhelp.mgb.org/orderEntry/orderChemo9playerDoseMods.htm (SECONDARY; institutional practice)"
)
ASCO_GERIATRIC_2018 = (
    "Mohile SG, Dale W, Somerfield MR, et al. Practical Assessment and Management of Vulnerabilities in Older "
    "Patients Receiving Chemotherapy: ASCO Guideline for Geriatric Oncology. J Clin Oncol 2018;36(22):2326-2347. "
    "PMID 29782209. doi:10.1200/JCO.2018.78.8687: geriatric assessment for patients aged 65 and over receiving "
    "chemotherapy"
)
