"""One module per pattern. Each exposes RULE (id, version, standard, levels), a thresholds parser and
`evaluate(data, thresholds) -> alerts`. ENGINE_RULES lists them in the order they run (febrile
neutropenia first: the expected-effect judgement and the hold check read its findings); RULES maps
every rule id to its Rule, for the level ranks and the pages."""
from monitoring.clinical.rules import aki, capillary_leak, febrile_neutropenia, il2_hold, news2, sepsis

ENGINE_RULES = (febrile_neutropenia, news2, sepsis, aki, capillary_leak, il2_hold)
RULES = {rule.id: rule for rule in (febrile_neutropenia.RULE, news2.RULE, sepsis.RULE, sepsis.EXPECTED, aki.RULE,
                                    capillary_leak.RULE, il2_hold.RULE, il2_hold.INCOMPLETE_RULE)}
