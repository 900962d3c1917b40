import sys

from recipes.mlp_classifier.recipe import main

sys.exit(main())
