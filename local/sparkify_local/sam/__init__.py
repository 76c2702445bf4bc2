"""Reading ``template.yaml``: the local runtime's wiring comes from the deployed template."""
