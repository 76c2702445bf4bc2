"""Reading ``template.yaml``, in whichever process needs the wiring: the command's (the
resources, the event source) and the moto server's (the Lambda dispatcher)."""
