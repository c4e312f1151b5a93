"""serving: GaitMAE inference -- the TorchServe handler, the model-archive builder and config, and
the one inference client interface with its two implementations (TorchServe over HTTP, in-process).

May import: gaitcore, torch (only here and in gaitcore's model modules), requests. The API process
never imports this package's torch-using modules.
"""
