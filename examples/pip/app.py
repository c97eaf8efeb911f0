import importlib.metadata as md
print(sorted(d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].startswith("acpkg")))
