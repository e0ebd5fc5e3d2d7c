"""`bench calibrate`: can this machine's client drive the planned benchmark faithfully?"""
