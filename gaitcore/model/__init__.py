"""GaitMAE model package (torch). See gaitmae.py for the network and docs/gaitmae.md."""
