print("kujira")
