raise RuntimeError("prestartup exploded")
