"""One module per pattern. Each exposes RULE (id, version, standard), a thresholds parser and
`evaluate(data, thresholds) -> alerts`. ENGINE_RULES lists them in the order they run."""
from monitoring.rules import aki, capillary_leak, febrile_neutropenia, il2_hold, sepsis

ENGINE_RULES = (febrile_neutropenia, sepsis, aki, capillary_leak, il2_hold)
