"""Organizations (机构): the enterprises, universities, institutes, agencies and offices that own listings."""
