DROP TABLE answer_patches;
